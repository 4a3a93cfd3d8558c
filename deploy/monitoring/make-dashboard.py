#!/usr/bin/env python3
"""Writes grafana-dashboard.json beside this file: Basalt's Grafana dashboard,
built from the metrics a node serves at /metrics. Edit the panels here and run
it again; deploy/check.py fails when the JSON is not what this script writes,
and when a query names a metric the server does not have."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job="$job", instance=~"$instance"'

panels = []
_id = 0
_y = 0


def _next_id():
    global _id
    _id += 1
    return _id


def row(title):
    global _y
    panels.append({"type": "row", "title": title, "id": _next_id(), "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": _y}, "panels": []})
    _y += 1


_x = 0


def panel(title, targets, unit="short", kind="timeseries", w=8, h=8, description="", stack=False, decimals=None):
    global _x, _y
    if _x + w > 24:
        _x = 0
        _y += h
    defaults = {"unit": unit}
    if decimals is not None:
        defaults["decimals"] = decimals
    p = {
        "type": kind, "title": title, "id": _next_id(), "datasource": DS, "description": description,
        "gridPos": {"h": h, "w": w, "x": _x, "y": _y},
        "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend, "range": True}
                    for i, (expr, legend) in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
    }
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if stack else 0,
                                                  "stacking": {"mode": "normal" if stack else "none"}}
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}}
    else:
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    panels.append(p)
    _x += w
    if _x >= 24:
        _x = 0
        _y += h


def end_row():
    global _x, _y
    if _x:
        _x = 0
        _y += 8


RATE = "$__rate_interval"

row("Overview")
panel("Nodes up", [('count(up{job="$job"} == 1)', "up")], kind="stat", w=4, h=4)
panel("Versions", [(f'count by (version, backend) (basalt_build_info{{{SEL}}})', "{{version}} on {{backend}}")],
      kind="stat", w=4, h=4)
panel("Requests / s", [(f'sum(rate(basalt_http_requests_total{{{SEL}}}[{RATE}]))', "req/s")], unit="reqps", kind="stat", w=4, h=4)
panel("5xx ratio", [(f'sum(rate(basalt_http_requests_total{{{SEL}, status=~"5.."}}[{RATE}])) / '
                     f'sum(rate(basalt_http_requests_total{{{SEL}}}[{RATE}]))', "5xx")], unit="percentunit", kind="stat", w=4, h=4)
panel("Realtime sockets", [(f'sum(basalt_realtime_sockets{{{SEL}}})', "sockets")], kind="stat", w=4, h=4)
panel("Outbox waiting", [(f'sum(basalt_outbox_depth{{{SEL}}})', "waiting")], kind="stat", w=4, h=4)
end_row()

row("HTTP")
panel("Requests by status", [(f'sum by (status) (rate(basalt_http_requests_total{{{SEL}}}[{RATE}]))', "{{status}}")],
      unit="reqps", stack=True)
panel("Requests by node", [(f'sum by (instance) (rate(basalt_http_requests_total{{{SEL}}}[{RATE}]))', "{{instance}}")],
      unit="reqps")
panel("Busiest routes", [(f'topk(10, sum by (method, route) (rate(basalt_http_requests_total{{{SEL}}}[{RATE}])))',
                          "{{method}} {{route}}")], unit="reqps")
panel("Latency (without realtime handshakes)", [
    (f'histogram_quantile({q}, sum by (le) (rate(basalt_http_request_duration_seconds_bucket{{{SEL}, route!="/v1/realtime"}}[{RATE}])))',
     f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)], unit="s")
panel("p99 latency by route", [
    (f'topk(10, histogram_quantile(0.99, sum by (route, le) (rate(basalt_http_request_duration_seconds_bucket{{{SEL}, route!="/v1/realtime"}}[{RATE}]))))',
     "{{route}}")], unit="s")
panel("Mean latency by route", [
    (f'topk(10, sum by (route) (rate(basalt_http_request_duration_seconds_sum{{{SEL}, route!="/v1/realtime"}}[{RATE}])) / '
     f'sum by (route) (rate(basalt_http_request_duration_seconds_count{{{SEL}, route!="/v1/realtime"}}[{RATE}])))', "{{route}}")],
      unit="s")
panel("Server errors by route", [(f'sum by (route, status) (rate(basalt_http_requests_total{{{SEL}, status=~"5.."}}[{RATE}]))',
                                  "{{status}} {{route}}")], unit="reqps")
panel("Rate limited (429) and denied (401/403)", [
    (f'sum by (status) (rate(basalt_http_requests_total{{{SEL}, status=~"401|403|429"}}[{RATE}]))', "{{status}}")], unit="reqps")
panel("HTTP connections", [(f'basalt_http_connections{{{SEL}}}', "{{instance}} open"),
                           (f'rate(basalt_http_connections_refused_total{{{SEL}}}[{RATE}])', "{{instance}} refused/s")])
end_row()

row("Database")
panel("Connection pools", [(f'sum by (instance, pool, state) (basalt_db_pool_connections{{{SEL}}})', "{{instance}} {{pool}} {{state}}")],
      w=12, description="SQLite: a read pool and one writer; PostgreSQL: one pool per node (db_max_connections).")
panel("Pool use (read / postgres)", [
    (f'sum by (instance) (basalt_db_pool_connections{{{SEL}, pool=~"read|postgres", state="in_use"}}) / '
     f'sum by (instance) (basalt_db_pool_connections{{{SEL}, pool=~"read|postgres"}})', "{{instance}}")], unit="percentunit", w=12)
end_row()

row("Realtime")
panel("Sockets and subscriptions", [(f'basalt_realtime_sockets{{{SEL}}}', "{{instance}} sockets"),
                                    (f'basalt_realtime_subscriptions{{{SEL}}}', "{{instance}} subscriptions")])
panel("Messages / s", [(f'sum by (instance) (rate(basalt_realtime_messages_in_total{{{SEL}}}[{RATE}]))', "{{instance}} in"),
                       (f'sum by (instance) (rate(basalt_realtime_messages_out_total{{{SEL}}}[{RATE}]))', "{{instance}} out"),
                       (f'sum by (instance) (rate(basalt_realtime_changes_delivered_total{{{SEL}}}[{RATE}]))', "{{instance}} changes")])
panel("Fan-out latency (commit to queue)", [
    (f'histogram_quantile({q}, sum by (le) (rate(basalt_realtime_fanout_seconds_bucket{{{SEL}}}[{RATE}])))', f"p{int(q * 100)}")
    for q in (0.5, 0.99)], unit="s")
panel("Slow consumers closed", [(f'sum by (instance) (increase(basalt_realtime_slow_consumers_total{{{SEL}}}[{RATE}]))', "{{instance}}")],
      w=8)
end_row()

row("Rules, functions, outbox")
panel("Rule evaluations", [(f'sum by (outcome) (rate(basalt_rule_evaluations_total{{{SEL}}}[{RATE}]))', "{{outcome}}")],
      unit="ops", stack=True)
panel("Rule evaluation time", [
    (f'histogram_quantile({q}, sum by (le) (rate(basalt_rule_evaluation_duration_seconds_bucket{{{SEL}}}[{RATE}])))', f"p{int(q * 100)}")
    for q in (0.5, 0.99)], unit="s")
panel("Function runs", [(f'sum by (status) (rate(basalt_function_runs_total{{{SEL}}}[{RATE}]))', "{{status}}"),
                        (f'sum(basalt_function_running{{{SEL}}})', "running or waiting")], unit="ops")
panel("Function run time", [
    (f'histogram_quantile({q}, sum by (le) (rate(basalt_function_duration_seconds_bucket{{{SEL}}}[{RATE}])))', f"p{int(q * 100)}")
    for q in (0.5, 0.99)], unit="s")
panel("Outbox (triggers, jobs, webhooks)", [(f'max(basalt_outbox_depth{{{SEL}}})', "waiting"),
                                            (f'max(basalt_outbox_lag_seconds{{{SEL}}})', "oldest waiting (s)")])
panel("Outbox deliveries", [(f'sum by (outcome) (rate(basalt_outbox_deliveries_total{{{SEL}}}[{RATE}]))', "{{outcome}}")], unit="ops")
end_row()

row("Process and logs")
panel("Resident memory", [(f'process_resident_memory_bytes{{{SEL}}}', "{{instance}}")], unit="bytes")
panel("Server log", [(f'basalt_log_queue_depth{{{SEL}}}', "{{instance}} queued"),
                     (f'rate(basalt_log_lines_written_total{{{SEL}}}[{RATE}])', "{{instance}} written/s"),
                     (f'rate(basalt_log_lines_dropped_total{{{SEL}}}[{RATE}])', "{{instance}} dropped/s")])
panel("Request log", [(f'basalt_request_log_queue_depth{{{SEL}}}', "{{instance}} queued"),
                      (f'rate(basalt_request_log_written_total{{{SEL}}}[{RATE}])', "{{instance}} written/s"),
                      (f'rate(basalt_request_log_dropped_total{{{SEL}}}[{RATE}])', "{{instance}} dropped/s"),
                      (f'rate(basalt_request_log_write_errors_total{{{SEL}}}[{RATE}])', "{{instance}} failed batches/s"),
                      (f'histogram_quantile(0.99, sum by (instance, le) (rate(basalt_request_log_write_seconds_bucket{{{SEL}}}[{RATE}])))',
                       "{{instance}} p99 batch time (s)")])
end_row()

dashboard = {
    "title": "Basalt",
    "uid": "basalt-overview",
    "description": "Basalt nodes: HTTP, database pools, realtime, rules, functions and the outbox, process and logs.",
    "tags": ["basalt"],
    "timezone": "browser",
    "schemaVersion": 39,
    "version": 1,
    "editable": True,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0},
        {"name": "job", "label": "Job", "type": "query", "datasource": DS,
         "query": {"query": "label_values(basalt_build_info, job)", "refId": "job"},
         "definition": "label_values(basalt_build_info, job)", "refresh": 1, "current": {"text": "basalt", "value": "basalt"}},
        {"name": "instance", "label": "Node", "type": "query", "datasource": DS, "multi": True, "includeAll": True,
         "allValue": ".*",
         "query": {"query": 'label_values(basalt_build_info{job="$job"}, instance)', "refId": "instance"},
         "definition": 'label_values(basalt_build_info{job="$job"}, instance)', "refresh": 2,
         "current": {"text": "All", "value": "$__all"}},
    ]},
    "annotations": {"list": []},
    "panels": panels,
}


def render():
    return json.dumps(dashboard, indent=2) + "\n"


if __name__ == "__main__":
    with open(os.path.join(HERE, "grafana-dashboard.json"), "w") as f:
        f.write(render())
    print(f"wrote grafana-dashboard.json: {sum(1 for p in panels if p['type'] != 'row')} panels")
