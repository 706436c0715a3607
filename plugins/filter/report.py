# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the roles' step results into reports: JSON document, Markdown, HTML, Prometheus."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.prefectdb.maintenance.plugins.filter.json_query import plain
from ansible_collections.prefectdb.maintenance.plugins.plugin_utils.report_document import build_document
from ansible_collections.prefectdb.maintenance.plugins.plugin_utils.report_html import render_html
from ansible_collections.prefectdb.maintenance.plugins.plugin_utils.report_markdown import render_markdown
from ansible_collections.prefectdb.maintenance.plugins.plugin_utils.report_prometheus import render_prometheus


def report_document(steps, playbook, host, generated_at, order=None):
    if not isinstance(steps, dict):
        raise AnsibleFilterError('prefectdb.maintenance.report_document: expects a dict of step results, got %s'
                                 % type(steps).__name__)
    return build_document(str(playbook), str(host), plain(steps), str(generated_at), plain(order))


def _document(document, name):
    document = plain(document)
    if not isinstance(document, dict) or 'schema' not in document:
        raise AnsibleFilterError('prefectdb.maintenance.%s: expects a document made by report_document' % name)
    return document


def report_markdown(document):
    return render_markdown(_document(document, 'report_markdown'))


def report_html(document):
    return render_html(_document(document, 'report_html'))


def report_prometheus(document):
    return render_prometheus(_document(document, 'report_prometheus'))


class FilterModule(object):
    def filters(self):
        return {
            'report_document': report_document,
            'report_markdown': report_markdown,
            'report_html': report_html,
            'report_prometheus': report_prometheus,
        }
