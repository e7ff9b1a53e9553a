"""The page's own numbers, served on /metrics in Prometheus text format, and /healthz."""

from __future__ import annotations

COUNTERS = {
    "web_requests_2xx": "answers with a 2xx status",
    "web_requests_3xx": "answers with a 3xx status (redirects, e.g. to the login page)",
    "web_requests_4xx": "answers with a 4xx status (403 for a role, 404, 429 ...)",
    "web_requests_5xx": "answers with a 5xx status: each is a bug or an outage",
    "logins": "successful logins",
    "login_failures": "wrong user name or password",
    "login_throttled": "login attempts refused unchecked: too many wrong passwords before",
    "csrf_refused": "POSTs refused for a missing or wrong CSRF token, or another origin",
    "allocations": "periods allocated from the page",
    "allocation_failures": "allocation runs from the page that ended in an error",
    "acknowledgements": "alarms acknowledged from the page",
}


class WebMetrics:
    def __init__(self) -> None:
        self.counters = dict.fromkeys(COUNTERS, 0)

    def inc(self, name: str, n: int = 1) -> None:
        self.counters[name] += n  # KeyError on a typo, on purpose

    def count_status(self, status: int) -> None:
        self.inc(f"web_requests_{min(max(status // 100, 2), 5)}xx")

    def render(self, up: dict[str, bool]) -> str:
        out = []
        for name, help_ in COUNTERS.items():
            out += [f"# HELP pvrelief_{name}_total {help_}",
                    f"# TYPE pvrelief_{name}_total counter",
                    f"pvrelief_{name}_total {self.counters[name]}"]
        out += ["# HELP pvrelief_web_dependency_up 1 when the page can use the dependency",
                "# TYPE pvrelief_web_dependency_up gauge"]
        out += [f'pvrelief_web_dependency_up{{dependency="{k}"}} {int(v)}'
                for k, v in sorted(up.items())]
        return "\n".join(out) + "\n"
