# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper: writes every task result to the JSON file named by PREFECTDB_RESULT_FILE."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: result_file
type: aggregate
short_description: write task results to a JSON file (tests only)
description:
  - Appends every task result to the JSON file named by the environment variable PREFECTDB_RESULT_FILE.
'''

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'result_file'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.results = []
        self.path = os.environ.get('PREFECTDB_RESULT_FILE')

    def _record(self, result, status):
        data = json.loads(json.dumps(result._result, default=str))
        # ansible-core 2.19 no longer puts 'failed' in the result handed to callbacks
        data['failed'] = status == 'failed'
        self.results.append({
            'task': result.task_name if hasattr(result, 'task_name') else result._task.get_name(),
            'host': result._host.get_name(),
            'status': status,
            'result': data,
        })

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_playbook_on_stats(self, stats):
        if self.path:
            summary = dict((h, stats.summarize(h)) for h in stats.processed)
            with open(self.path, 'w') as f:
                json.dump({'results': self.results, 'stats': summary}, f, indent=1, default=str)
