// Functions of a Python file of the platform (node/provision, node/rollout), called from a test:
// the file is loaded as a module (not as __main__, so nothing runs), each call's exit status,
// output and error kept apart. One Python for many calls: each start of one costs seconds here.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";

/** Each call of the JSON list [[FUNCTION, ARG...], ...] on stdin (an argument has a length limit);
 *  a dict result printed as "== KEY\\nVALUE" parts, another one not a string as JSON, None as nothing. */
const HARNESS = `
import contextlib, importlib.util, io, json, sys
spec = importlib.util.spec_from_file_location("module_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
results = []
for fn, *args in json.load(sys.stdin):
    out, err, status = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result = getattr(module, fn)(*args)
            if isinstance(result, dict):
                result = "".join("== %s\\n%s" % item for item in result.items())
            if result is not None and not isinstance(result, str):
                result = json.dumps(result)
            if isinstance(result, str):
                print(result, end="")
        except SystemExit as e:
            status = e.code
    results.append({"status": status, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
`;

export interface PythonResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** FILE (a .py path) loaded once, each call made in turn. */
export function callPython(file: string, calls: unknown[][]): PythonResult[] {
  const r = spawnSync("python3", ["-I", "-c", HARNESS, file], {
    input: JSON.stringify(calls),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as PythonResult[];
}
