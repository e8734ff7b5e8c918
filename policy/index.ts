// The fleet's policy pack: `pulumi preview --policy-pack policy` (or `pulumi up --policy-pack policy`).
// The rules are in ./rules.ts (pure, also applied by the tests to every planned resource);
// ./pack.ts adapts them to @pulumi/policy. Constructing the pack serves it to the Pulumi engine.
import { PolicyPack } from "@pulumi/policy";
import { fleetPolicies } from "./pack";

new PolicyPack("fleet-security", {
  description: "The fleet's security rules: network exposure, SSH sources, RDS, S3, EC2 hardening, tags.",
  policies: fleetPolicies(),
});
