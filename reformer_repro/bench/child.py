"""Entry point of a benchmark case's own process: `python -m reformer_repro.bench.child PAYLOAD_JSON RESULT_PATH`.

The program is `reformer_repro.bench.harness.child_main` (written and tested in nbs/30_bench_harness.ipynb); this
module only makes it runnable with `python -m`."""
from reformer_repro.bench.harness import child_main

if __name__ == '__main__': child_main()
