// The bench's scenario guards (bench/scenario.ts): a part whose scenario did not run as intended
// fails with the reason, and never turns into a figure.
import { strict as assert } from "assert";
import {
  expectCommandsOk,
  expectFailure,
  expectLoad,
  expectOk,
  expectServing,
  expectStepsRan,
  expectThat,
  figureValue,
  MIN_LOAD_REQUESTS,
  ScenarioError,
} from "../../bench/scenario";
import { ApplyResult, EMPTY_STATE, Ran } from "../../testbed/executor";

const step = (name: string, ok = true): Ran => ({
  name,
  urn: `urn:${name}`,
  op: "create",
  command: "",
  ok,
  stdout: "",
  stderr: "",
  ms: 1000,
  failedDials: 0,
});
const run = (ok: boolean, ran: Ran[], error?: string): ApplyResult => ({ state: EMPTY_STATE, ran, skipped: [], ok, error });
const refused = (reason: RegExp) => (err: unknown) => err instanceof ScenarioError && reason.test(err.message);

describe("bench scenario guards", () => {
  it("a load that sent too few requests, or had every one fail, is no measurement", () => {
    assert.throws(() => expectLoad("rollout", { requests: 0, failed: 0, failures: [] }), refused(/^rollout: the load sent 0 requests/));
    assert.throws(() => expectLoad("naive", { requests: MIN_LOAD_REQUESTS - 1, failed: 0, failures: [] }), refused(/fewer than 20/));
    assert.throws(
      () => expectLoad("naive", { requests: 40, failed: 40, failures: ["502 Bad Gateway"] }),
      refused(/all 40 requests of the load failed \(e\.g\. 502 Bad Gateway\)/),
    );
    const counts = { requests: 400, failed: 37, failures: ["502 Bad Gateway"] };
    assert.deepEqual(expectLoad("naive", counts), counts);
  });

  it("a run must succeed, or fail for the scenario's own reason", () => {
    assert.throws(() => expectOk("v2", run(false, [], "polls v2: stage failed")), refused(/^v2 failed: polls v2: stage failed$/));
    assert.throws(
      () => expectFailure("warm", run(true, []), /headline/),
      refused(/the run succeeded, but the scenario needs it to fail with \/headline\//),
    );
    assert.throws(
      () => expectFailure("warm", run(false, [], "fleet: error: app name 'app_polls' is not allowed"), /headline/),
      refused(/not with \/headline\/: fleet: error: app name/),
    );
    const r = run(false, [], 'column "headline" does not exist');
    assert.equal(expectFailure("warm", r, /headline/), r);
  });

  it("the tag must serve on every node; the steps timed must all have run", () => {
    assert.throws(
      () => expectServing("v2", { "node-1": "v2", "node-2": "v1" }, "v2"),
      refused(/expected v2 on every node, but node-2 serves v1/),
    );
    assert.throws(() => expectServing("v2", {}, "v2"), refused(/no node to check/));
    expectServing("v2", { "node-1": "v2", "node-2": "v2" }, "v2");
    assert.throws(
      () => expectStepsRan("warm", run(false, [step("polls-install-node-1"), step("polls-install-node-2", false)]), "polls-install-", 2),
      refused(/2 ran, polls-install-node-2 failed/),
    );
    assert.throws(
      () => expectStepsRan("warm", run(false, [step("polls-install-node-1")]), "polls-install-", 2),
      refused(/expected 2 polls-install-\* steps to run and succeed, 1 ran$/),
    );
    expectStepsRan(
      "warm",
      run(false, [step("polls-install-node-1"), step("polls-install-node-2"), step("polls-migrate", false)]),
      "polls-install-",
      2,
    );
  });

  it("every node's command exited 0; a condition names its reason", () => {
    assert.throws(
      () =>
        expectCommandsOk("naive", {
          "node-1": { code: 0, stderr: "" },
          "node-2": { code: 1, stderr: "x\nfleet: error: app name 'app_polls' is not allowed\n" },
        }),
      refused(/^naive: on node-2 exit 1: fleet: error: app name 'app_polls' is not allowed$/),
    );
    assert.throws(() => expectCommandsOk("naive", {}), refused(/ran on no node/));
    expectCommandsOk("naive", { "node-1": { code: 0, stderr: "" } });
    assert.throws(() => expectThat(false, "dr: 3 of 20 apps serve"), refused(/^dr: 3 of 20 apps serve$/));
  });

  it("a figure is a finite number, rounded to thousandths, or text", () => {
    assert.throws(() => figureValue("dr_seconds_20_apps", Number.NaN), refused(/^dr_seconds_20_apps: NaN is not a measurement$/));
    assert.throws(() => figureValue("x", Infinity), ScenarioError);
    assert.equal(figureValue("stage_warm_over_cold", 0.123456), "0.123");
    assert.equal(figureValue("n", 0), "0");
    assert.equal(figureValue("t", "n/a"), "n/a");
  });
});
