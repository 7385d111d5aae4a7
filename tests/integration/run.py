"""run - the integration suite: every test_*.py here, against real BPF.

Prints one line per test and, last, "SUMMARY: P passed, F failed, S skipped".
Under CI=true a skip counts as a failure: CI must exercise real BPF.
"""

import glob
import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    only = sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "test_*.py"))):
        importlib.import_module(os.path.basename(path)[:-3])
    ci = os.environ.get("CI") == "true"
    passed = failed = skipped = 0
    for name, fn, slow in harness.TESTS:
        if only and not any(o in name for o in only):
            continue
        t0 = time.time()
        try:
            fn()
        except harness.Skip as e:
            if ci:
                failed += 1
                print(f"FAIL {name}: skipped under CI=true: {e}", flush=True)
            else:
                skipped += 1
                print(f"skip {name}: {e}", flush=True)
            continue
        except Exception as e:  # noqa: BLE001 - a test's error is its failure
            failed += 1
            print(f"FAIL {name} ({time.time() - t0:.1f}s): {e}", flush=True)
            if not isinstance(e, AssertionError):
                traceback.print_exc()
            continue
        passed += 1
        print(f"ok {name} ({time.time() - t0:.1f}s){' [slow]' if slow else ''}", flush=True)
    print(f"SUMMARY: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
