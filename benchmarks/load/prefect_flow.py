"""Real Prefect flows for the light-touch run against a real Prefect server.

Runs in Prefect's own virtualenv (.venv-prefect) with PREFECT_API_URL set:

    PREFECT_API_URL=http://127.0.0.1:4300/api .venv-prefect/bin/python benchmarks/load/prefect_flow.py \
        --stop-file /tmp/stop --tasks 50 --out /tmp/runner0.jsonl

Starts one flow run after the other until the stop file exists: each flow submits
--tasks short tasks to its thread pool task runner (each logs a line and sleeps a
few milliseconds), waits for them, and ends. One JSON line per flow run: start,
end, final state, and the exception when the run could not even be started.
"""
import argparse
import json
import os
import sys
import time
import traceback

from prefect import flow, get_run_logger, task


@task
def short_task(i):
    get_run_logger().info('task %d working', i)
    time.sleep(0.02)
    return i * 2


@flow(name='light-touch-many-short-tasks')
def many_short_tasks(n=50):
    get_run_logger().info('starting %d tasks', n)
    futures = [short_task.submit(i) for i in range(n)]
    return sum(f.result() for f in futures)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--stop-file', help='start no new flow run once this file exists')
    parser.add_argument('--runs', type=int, default=0, help='stop after this many flow runs (0: no limit)')
    parser.add_argument('--tasks', type=int, default=50)
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    with open(args.out, 'a') as out:
        done = 0
        while not (args.stop_file and os.path.exists(args.stop_file)) and not (args.runs and done >= args.runs):
            done += 1
            began = time.time()
            record = {'start': began}
            try:
                state = many_short_tasks(args.tasks, return_state=True)
                record.update({'state': state.type.value, 'name': state.name,
                               'flow_run_id': str(state.state_details.flow_run_id),
                               'message': (state.message or '')[:300]})
                if not state.is_completed():
                    record['detail'] = repr(state.result(raise_on_failure=False))[:500]
            except Exception as e:  # pylint: disable=broad-except
                record.update({'state': 'EXCEPTION', 'error': repr(e)[:500],
                               'traceback': traceback.format_exc()[-1500:]})
            record['end'] = time.time()
            out.write(json.dumps(record) + '\n')
            out.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
