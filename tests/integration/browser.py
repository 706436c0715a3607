"""A headless Chromium driven over the DevTools protocol: open a page, collect
console errors, exceptions and failed requests, evaluate JavaScript, take a screenshot."""
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import websocket

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-default-apps', '--hide-scrollbars', '--window-size=1280,2000']


def chromium_path():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Page(object):
    """One browser with one tab; use as a context manager."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix='prefectdb-chromium-')
        port = _free_port()
        self.proc = subprocess.Popen([chromium_path(), '--remote-debugging-port=%d' % port,
                                      '--user-data-dir=%s' % self.profile] + CHROMIUM_FLAGS + ['about:blank'],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        targets = []
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/json/list' % port, timeout=2) as r:
                    targets = [t for t in json.load(r) if t.get('type') == 'page']
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if not targets:
            self.close()
            raise RuntimeError('chromium did not open its DevTools endpoint')
        self.ws = websocket.create_connection(targets[0]['webSocketDebuggerUrl'], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = []
        for domain in ('Runtime', 'Log', 'Page', 'Network'):
            self.call(domain + '.enable')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.ws.close()
        except Exception:  # pylint: disable=broad-except
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({'id': my_id, 'method': method, 'params': params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get('id') == my_id:
                if 'error' in message:
                    raise RuntimeError('%s: %s' % (method, message['error']))
                return message.get('result', {})
            self.events.append(message)

    def wait_for(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get('method') == method:
                return event
        self.ws.settimeout(1)
        try:
            while time.monotonic() < deadline:
                try:
                    message = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                self.events.append(message)
                if message.get('method') == method:
                    return message
        finally:
            self.ws.settimeout(30)
        raise RuntimeError('no %s within %d s' % (method, timeout))

    def open(self, path, settle=1.0):
        self.call('Page.navigate', url='file://' + os.path.abspath(path))
        self.wait_for('Page.loadEventFired')
        end = time.monotonic() + settle
        self.ws.settimeout(0.2)
        try:
            while time.monotonic() < end:
                try:
                    self.events.append(json.loads(self.ws.recv()))
                except websocket.WebSocketTimeoutException:
                    pass
        finally:
            self.ws.settimeout(30)

    def problems(self):
        """Console errors, uncaught exceptions, error log entries and failed loads, as text."""
        found = []
        for event in self.events:
            method, params = event.get('method'), event.get('params', {})
            if method == 'Runtime.consoleAPICalled' and params.get('type') in ('error', 'assert'):
                found.append('console.%s: %s' % (params['type'], ' '.join(
                    str(a.get('value', a.get('description'))) for a in params.get('args', []))))
            elif method == 'Runtime.exceptionThrown':
                found.append('exception: %s' % params.get('exceptionDetails', {}).get('text'))
            elif method == 'Log.entryAdded' and params.get('entry', {}).get('level') == 'error':
                found.append('log: %s' % params['entry'].get('text'))
            elif method == 'Network.loadingFailed':
                found.append('load failed: %s' % params.get('errorText'))
        return found

    def evaluate(self, expression):
        result = self.call('Runtime.evaluate', expression=expression, returnByValue=True)
        if 'exceptionDetails' in result:
            raise RuntimeError(result['exceptionDetails'].get('text'))
        return result['result'].get('value')

    def screenshot(self, path):
        data = self.call('Page.captureScreenshot', format='png', captureBeyondViewport=True)['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))
        return path
