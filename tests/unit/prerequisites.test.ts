import { strict as assert } from "assert";
import { hasCgroup2 } from "../../testbed/cluster";
import { missingDebianPackages, testBedProblem } from "../../testbed/prerequisites";

describe("rehearse's prerequisites (testbed/prerequisites.ts over .ci/install-debian-packages.sh --check)", () => {
  it("names a package dpkg does not have, and not one it has", () => {
    assert.deepEqual(missingDebianPackages(["fleet-no-such-package-0", "dpkg"]), ["fleet-no-such-package-0"]);
    assert.deepEqual(missingDebianPackages(["dpkg"]), []);
  });

  it("without root: the one line says to run it with sudo", () => {
    assert.match(testBedProblem({ init: "plain" }, false) ?? "", /^needs root: .*run it with sudo$/);
  });

  it("cgroup2: a cgroup2 mount where the test bed looks, not cgroup v1 alone", () => {
    const v1 = "tmpfs /sys/fs/cgroup tmpfs ro 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw 0 0\n";
    assert.equal(hasCgroup2(v1), false);
    assert.equal(hasCgroup2("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n"), true);
  });
});
