// Each app's logs in CloudWatch: one log group per app, /fleet/<stack>/<app's OS user> (what a
// node's journal knows the app by: config/identity.ts), kept for
// fleet:logs.retentionDays, so what an app logged outlives the node that logged it (nodes are
// replaced at any time). The nodes ship their journal there (node/provision/fleet-logship.py,
// installed by cloud-init: render/cloudInit.ts); the nodes' role may write these groups' streams
// and nothing else of CloudWatch Logs (logShippingPolicy). The program declares the groups, so
// the shipper never creates one (a group it made would keep its logs for ever and outlive the app).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { fleetTags } from "./awsTags";
import { appIdentity } from "../../config/identity";

/** The prefix of a stack's app log groups; the shipper appends the app's name. Pure. */
export function logGroupPrefix(stack: string): string {
  return `/fleet/${stack}/`;
}

/** The log group of an app (its catalog name) on a stack. Pure. */
export function logGroupName(stack: string, app: string): string {
  return `${logGroupPrefix(stack)}${appIdentity(app).osUser}`;
}

/** Writing log events to the streams of the log groups named GROUP_PREFIX...: nothing else. Pure. */
export function logShippingPolicy(groupPrefix: string): Record<string, unknown> {
  const groups = `arn:aws:logs:*:*:log-group:${groupPrefix}*`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ShipAppLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        Resource: [groups, `${groups}:log-stream:*`],
      },
    ],
  };
}

export interface LogGroupsArgs {
  stack: string;
  /** The apps' catalog names. */
  apps: string[];
  /** fleet:logs.retentionDays. */
  retentionDays: number;
}

export class LogGroups extends pulumi.ComponentResource {
  /** app (its catalog name) -> its log group's name. */
  public readonly groups: Record<string, pulumi.Output<string>> = {};

  constructor(name: string, args: LogGroupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:infra:LogGroups", name, {}, opts);
    for (const app of args.apps) {
      // APP_logs: an infrastructure resource of one app is named APP_... (offline/targets.ts: a
      // tag bump or an app's removal targets it with the app's own resources).
      const group = new aws.cloudwatch.LogGroup(
        `${app}_logs`,
        {
          name: logGroupName(args.stack, app),
          retentionInDays: args.retentionDays,
          tags: fleetTags(args.stack, `${app}_logs`, { app, role: "logs" }),
        },
        { parent: this },
      );
      this.groups[app] = group.name;
    }
    this.registerOutputs({ groups: this.groups });
  }
}
