#!/usr/bin/env python3
"""Writes deploy/grafana/dashboards/tamperwatch.json (the committed file).

Edit this script, not the JSON, then run `python3 deploy/grafana/make_dashboard.py`.
The test crates/tamperwatch/tests/deploy_dashboard.rs validates the JSON and checks
that every metric it queries is exported by tamperwatch.

Queries use only tamperwatch's own metrics (and `up`), so the dashboard works
on a Prometheus that has not loaded deploy/prometheus/tamperwatch.rules.yml.
"""
import json, os

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'instance=~"$instance"'
RI = "$__rate_interval"

# Each signature's denominator (see deploy/prometheus/tamperwatch.rules.yml).
# Adding a signature: one line here.
DENOMINATORS = {
    "rst_injection": f'sum by (instance) (rate(tamperwatch_flows_finished_total{{{SEL},proto="tcp"}}[{RI}]))',
    "dns_injection": f'sum by (instance) (rate(tamperwatch_dns_queries_total{{{SEL}}}[{RI}]))',
    "http_injection": f'sum by (instance) (rate(tamperwatch_http_requests_total{{{SEL}}}[{RI}]))',
    "blackhole": f'(sum by (instance) (rate(tamperwatch_flows_finished_total{{{SEL},proto="tcp"}}[{RI}]))'
                 f' + on (instance) sum by (instance) (rate(tamperwatch_quic_attempts_total{{{SEL}}}[{RI}])))',
    # judged downloads (each flow long and large enough to judge, counted at its first judgment)
    "throttling": f'sum by (instance) (rate(tamperwatch_downloads_judged_total{{{SEL}}}[{RI}]))',
}

def range_denominators():
    """The denominators over the dashboard's whole range."""
    return "\n  or\n".join(
        f'  label_replace(({e.replace(RI, "$__range").replace("rate(", "increase(")}) > 0, "signature", "{s}", "", "")'
        for s, e in DENOMINATORS.items())

def denominators():
    return "\n  or\n".join(
        f'  label_replace(({expr}) > 0, "signature", "{sig}", "", "")' for sig, expr in DENOMINATORS.items()
    )

SHARE_BY_INSTANCE = (
    f'sum by (instance, signature) (rate(tamperwatch_events_total{{{SEL},signature=~"$signature"}}[{RI}]))\n'
    f"/ on (instance, signature) (\n{denominators()}\n)"
)
# Each denominator is kept only where it is above 0, as in the recording
# rules: no +Inf (events over an empty window) and no NaN (0/0); zeros stay.

BLIND = (
    f'clamp_max(\n'
    f'    max by (instance) (1 - tamperwatch_capture_up{{{SEL}}})\n'
    f'  + on (instance) (\n'
    f'      max by (instance) (\n'
    f'        rate(tamperwatch_capture_kernel_drops_total{{{SEL}}}[{RI}])\n'
    f'          / (rate(tamperwatch_capture_packets_total{{{SEL}}}[{RI}]) + rate(tamperwatch_capture_kernel_drops_total{{{SEL}}}[{RI}]) > 0)\n'
    f'        > bool 0.01)\n'
    f'      or on (instance) max by (instance) (tamperwatch_capture_up{{{SEL}}} * 0))\n'
    f'  + on (instance) (sum by (instance) (rate(tamperwatch_packets_total{{{SEL}}}[15m])) == bool 0),\n'
    f'  1)'
)

EVIDENCE_TEXT = """\
Metrics count detections; the **evidence** (which rules fired, the headers that disagreed, the flow and the target)
is in each vantage point's event file, which never leaves the host unless its operator exports it.
Events are not in Prometheus: their addresses and targets must not become labels.

To get the events behind the panels above, for the time range shown, ask the operator of the vantage point
(`$instance`) to run on it:

```
tamperwatch events --since ${__from:date:iso} --until ${__to:date:iso} \\
  --client truncate --target hash --format csv -o tamperwatch-events.csv
```

(every signature; `--signature NAME`, repeated, keeps some. `--client truncate` keeps the client's /24 or /48
only, `--target hash` replaces domains with keyed hashes; `keep` or `drop` are the other choices). Each row has
the event `id`: with `--client keep`, `tw-` and 16 hex digits, the same id as in a replay of a capture of that
time, which finds the same packets; anonymised (`truncate`, `drop`), a keyed `tw-a` id that matches no replay.
See docs/operator-guide.md, "From a panel to the evidence".
"""

panels = []
pid = [0]
def nid():
    pid[0] += 1
    return pid[0]

def row(title, y):
    panels.append({"type": "row", "title": title, "id": nid(), "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})

def target(expr, legend, ref="A", instant=False, fmt=None):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}
    if instant:
        t["instant"] = True
        t["range"] = False
    if fmt:
        t["format"] = fmt
    return t

def ts(title, desc, targets, gp, unit="short", maxv=None, stack=False, links=None):
    p = {"type": "timeseries", "title": title, "description": desc, "id": nid(), "datasource": DS,
         "gridPos": gp, "targets": targets,
         "fieldConfig": {"defaults": {"unit": unit, "min": 0,
                                      "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                                                 "stacking": {"mode": "normal" if stack else "none"},
                                                 "spanNulls": False}},
                         "overrides": []},
         "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
                     "tooltip": {"mode": "multi", "sort": "desc"}}}
    if maxv is not None:
        p["fieldConfig"]["defaults"]["max"] = maxv
    if links:
        p["fieldConfig"]["defaults"]["links"] = links
    panels.append(p)

def state(title, desc, targets, gp, mappings, thresholds):
    panels.append({"type": "state-timeline", "title": title, "description": desc, "id": nid(),
                   "datasource": DS, "gridPos": gp, "targets": targets,
                   "fieldConfig": {"defaults": {"mappings": mappings,
                                                "thresholds": {"mode": "absolute", "steps": thresholds},
                                                "color": {"mode": "thresholds"}}, "overrides": []},
                   "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                               "legend": {"displayMode": "list", "placement": "bottom"}}})

def table(title, desc, targets, gp, unit="short"):
    panels.append({"type": "table", "title": title, "description": desc, "id": nid(), "datasource": DS,
                   "gridPos": gp, "targets": targets,
                   "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                   "transformations": [{"id": "reduce", "options": {"reducers": ["lastNotNull"]}}]
                   if not targets[0].get("instant") else [],
                   "options": {"showHeader": True, "sortBy": [{"displayName": "Value", "desc": True}]}})

GREEN_RED = [{"color": "green", "value": None}, {"color": "red", "value": 1}]

y = 0
row("Detections (shares of their denominators)", y); y += 1
ts("Detections as a share of what they are judged against",
   "Events per denominator: rst_injection per finished TCP flow, dns_injection per DNS query, "
   "http_injection per HTTP request, blackhole per finished TCP flow and QUIC attempt. "
   "Shares, not counts: a busy vantage point does not look more censored than a quiet one. "
   "Read it next to 'Blind': no detection while blind means nothing. The evidence: see the text panel below.",
   [target(SHARE_BY_INSTANCE, "{{signature}} @ {{instance}}")],
   {"h": 9, "w": 16, "x": 0, "y": y}, unit="percentunit")
state("Blind", "1 (red) while the vantage point cannot be trusted to see tampering: a capture is down, "
      "the kernel drops more than 1% of packets, or nothing was processed for 15 minutes.",
      [target(BLIND, "{{instance}}")], {"h": 9, "w": 8, "x": 16, "y": y},
      [{"type": "value", "options": {"0": {"text": "seeing", "color": "green"},
                                     "1": {"text": "BLIND", "color": "red"}}}], GREEN_RED)
y += 9
table("Vantage points by share over the range",
      "Each vantage point's share per signature over the whole selected range (top 20).",
      [target(f'topk(20, sum by (instance, signature) (increase(tamperwatch_events_total{{{SEL},signature=~"$signature"}}[$__range]))\n'
              f'/ on (instance, signature) (\n' + range_denominators() + "\n) > 0)", "", instant=True, fmt="table")],
      {"h": 8, "w": 12, "x": 0, "y": y}, unit="percentunit")
table("Events in the range (how many to export)",
      "Counts, for the export only: how many events `tamperwatch events` will find for this range.",
      [target(f'sum by (instance, signature) (increase(tamperwatch_events_total{{{SEL},signature=~"$signature"}}[$__range])) > 0',
              "", instant=True, fmt="table")],
      {"h": 8, "w": 12, "x": 12, "y": y})
y += 8
GSEL = f'{SEL},signature=~"$signature",group=~"$group"'
# Each signature's denominator per watched group: tamperwatch_group_targets_total by kind.
GROUP_KINDS = {"rst_injection": "tcp_flow", "dns_injection": "dns_query", "http_injection": "tcp_flow",
               "blackhole": "tcp_flow|quic_flow"}
group_denominators = "\n  or\n".join(
    [f'  label_replace(sum by (instance, group) (rate(tamperwatch_group_targets_total{{{SEL},group=~"$group",kind=~"{k}"}}[{RI}])) > 0, '
     f'"signature", "{sig}", "", "")' for sig, k in GROUP_KINDS.items()]
    # throttling: per judged download of the group
    + [f'  label_replace(sum by (instance, group) (rate(tamperwatch_downloads_judged_total{{{SEL},group=~"$group"}}[{RI}])) > 0, '
       f'"signature", "throttling", "", "")'])
ts("Watched groups: share of their connections and queries tampered with",
   "For each group of the operator's watch list ([watch_list] in the configuration; 'other' is every target "
   "outside it): events over the group's own connections or queries (TCP flows for rst_injection and "
   "http_injection, DNS queries for dns_injection, TCP and QUIC flows for blackhole, judged downloads for "
   "throttling). 100% means every "
   "connection to the service was tampered with.",
   [target(f'sum by (instance, signature, group) (rate(tamperwatch_detections_total{{{GSEL}}}[{RI}]))\n'
           f'/ on (instance, signature, group) (\n{group_denominators}\n)',
           "{{group}} {{signature}} @ {{instance}}")],
   {"h": 8, "w": 14, "x": 0, "y": y}, unit="percentunit")
table("Top target groups over the range",
      "Events per watched group and signature over the selected range (top 10), all selected vantage points together.",
      [target(f'topk(10, sum by (group, signature) (increase(tamperwatch_detections_total{{{GSEL}}}[$__range])) > 0)',
              "", instant=True, fmt="table")],
      {"h": 8, "w": 10, "x": 14, "y": y})
y += 8
ts("Throttling: median download goodput by watched group",
   "The median delivered rate of measured downloads (at least 256 KiB over at least 1 s) per watch-list group, "
   "from tamperwatch_goodput_bytes_per_second. A watched group far below 'other' at the same time is what a "
   "targeted policer looks like; everything low together is a slow link. Dashed: the estimated limit of the "
   "group's latest throttling detection (the event's limit_bps / 8).",
   [target(f'histogram_quantile(0.5, sum by (instance, group, le) (rate(tamperwatch_goodput_bytes_per_second_bucket{{{SEL},group=~"$group|other"}}[$__rate_interval])))',
           "{{group}} median @ {{instance}}"),
    target(f'tamperwatch_throttling_limit_bytes_per_second{{{SEL},group=~"$group"}} > 0',
           "{{group}} throttled to @ {{instance}}", "B")],
   {"h": 8, "w": 14, "x": 0, "y": y}, unit="Bps")
ts("Throttling detections per judged download",
   "throttling events over the downloads long and large enough to judge (signatures/throttling.md), per group; "
   "a download counts from its first judgment, while it still runs.",
   [target(f'sum by (instance, group) (rate(tamperwatch_detections_total{{{SEL},signature="throttling",group=~"$group"}}[{RI}]))\n'
           f'/ on (instance, group) (sum by (instance, group) (rate(tamperwatch_downloads_judged_total{{{SEL},group=~"$group"}}[{RI}])) > 0)',
           "{{group}} @ {{instance}}")],
   {"h": 8, "w": 10, "x": 14, "y": y}, unit="percentunit", maxv=1)
y += 8
ts("rst_injection by connection stage (share of resets)",
   "When in the connection the forged resets hit: after_request (the request or ClientHello triggered it) is the usual censor.",
   [target(f'sum by (stage) (rate(tamperwatch_rst_injections_total{{{SEL}}}[{RI}]))\n'
           f'/ scalar(sum(rate(tamperwatch_rst_injections_total{{{SEL}}}[{RI}])) > 0)', "{{stage}}")],
   {"h": 8, "w": 8, "x": 0, "y": y}, unit="percentunit", stack=True)
ts("TCP flows by outcome (share)",
   "How TCP flows end. reset_by_server includes injected resets, so it rises with rst_injection; refused and "
   "handshake_timeout rise with IP blocking.",
   [target(f'sum by (outcome) (rate(tamperwatch_flows_finished_total{{{SEL},proto="tcp"}}[{RI}]))\n'
           f'/ scalar(sum(rate(tamperwatch_flows_finished_total{{{SEL},proto="tcp"}}[{RI}])) > 0)', "{{outcome}}")],
   {"h": 8, "w": 8, "x": 8, "y": y}, unit="percentunit", stack=True)
ts("DNS answers per query, unanswered share",
   "Answers per query above 1 are duplicates or forged answers racing the resolver's; unanswered queries rise with in-path drops.",
   [target(f'sum(rate(tamperwatch_dns_answers_total{{{SEL}}}[{RI}])) / (sum(rate(tamperwatch_dns_queries_total{{{SEL}}}[{RI}])) > 0)', "answers per query"),
    target(f'sum(rate(tamperwatch_dns_unanswered_total{{{SEL}}}[{RI}])) / (sum(rate(tamperwatch_dns_queries_total{{{SEL}}}[{RI}])) > 0)', "unanswered share", "B")],
   {"h": 8, "w": 8, "x": 16, "y": y})
y += 8
ts("Left out as look-alikes (per minute)",
   "What tamperwatch saw and chose not to report, and why (docs/metrics.md): a busy server's silent drops, "
   "hung TLS behind a proxy on the local network, "
   "a DNS resolver's route moving or getting faster, resets from the first hop with rst_injection.local_resets = \"count\", "
   "a server's own firewall resetting this address, a port scan's unanswered SYNs, a browser trying https:// at an HTTP-only site, "
   "failures during a link-down period, events withheld behind a captive portal. A rise with no events is "
   "worth a look: a look-alike, or a censor the excuse hides (each signature's blind spots).",
   [target(f'sum by (stage) (rate(tamperwatch_blackhole_server_busy_total{{{SEL}}}[{RI}])) * 60', "busy server ({{stage}})"),
    target(f'sum(rate(tamperwatch_blackhole_first_hop_handshake_total{{{SEL}}}[{RI}])) * 60', "TLS via a local proxy (blackhole)", "F"),
    target(f'sum by (reason) (rate(tamperwatch_dns_route_moves_excused_total{{{SEL}}}[{RI}])) * 60', "DNS route move ({{reason}})", "B"),
    target(f'sum by (action) (rate(tamperwatch_rst_first_hop_total{{{SEL}}}[{RI}])) * 60', "first-hop reset ({{action}})", "C"),
    target(f'sum(rate(tamperwatch_rst_server_end_reject_total{{{SEL}}}[{RI}])) * 60', "server's own firewall reset (rst)", "G"),
    target(f'sum(rate(tamperwatch_blackhole_port_scan_total{{{SEL}}}[{RI}])) * 60', "port scan (blackhole)", "H"),
    target(f'sum(rate(tamperwatch_blackhole_https_upgrade_total{{{SEL}}}[{RI}])) * 60', "https:// tried at an HTTP-only site (blackhole)", "I"),
    target(f'sum(rate(tamperwatch_blackhole_inbound_total{{{SEL}}}[{RI}])) * 60', "scans of this vantage point (blackhole)", "J"),
    target(f'sum by (signature) (rate(tamperwatch_link_down_excused_total{{{SEL}}}[{RI}])) * 60', "link down ({{signature}})", "D"),
    target(f'sum by (signature) (rate(tamperwatch_captive_portal_events_withheld_total{{{SEL}}}[{RI}])) * 60', "captive portal ({{signature}})", "E")],
   {"h": 8, "w": 24, "x": 0, "y": y})
y += 8
panels.append({"type": "text", "title": "From a panel to the evidence", "id": nid(),
               "gridPos": {"h": 9, "w": 24, "x": 0, "y": y},
               "options": {"mode": "markdown", "content": EVIDENCE_TEXT}})
y += 9

row("Capture health (can this vantage point see?)", y); y += 1
state("Capture up, per interface", "tamperwatch_capture_up: 1 while the capture on the interface is open and the interface is up with a carrier.",
      [target(f'tamperwatch_capture_up{{{SEL}}}', "{{instance}} {{interface}}")],
      {"h": 7, "w": 12, "x": 0, "y": y},
      [{"type": "value", "options": {"0": {"text": "down", "color": "red"}, "1": {"text": "up", "color": "green"}}}],
      [{"color": "red", "value": None}, {"color": "green", "value": 1}])
state("Exporter scraped", "up: 1 while Prometheus can scrape tamperwatch.",
      [target(f'up{{job="tamperwatch",{SEL}}}', "{{instance}}")],
      {"h": 7, "w": 12, "x": 12, "y": y},
      [{"type": "value", "options": {"0": {"text": "unreachable", "color": "red"}, "1": {"text": "ok", "color": "green"}}}],
      [{"color": "red", "value": None}, {"color": "green", "value": 1}])
y += 7
ts("Kernel drops (share of packets)",
   "Packets the kernel dropped because the capture ring was full. While above 0, events carry capture_lossy.",
   [target(f'rate(tamperwatch_capture_kernel_drops_total{{{SEL}}}[{RI}])\n'
           f'/ (rate(tamperwatch_capture_packets_total{{{SEL}}}[{RI}]) + rate(tamperwatch_capture_kernel_drops_total{{{SEL}}}[{RI}]) > 0)',
           "{{instance}} {{interface}}")],
   {"h": 8, "w": 8, "x": 0, "y": y}, unit="percentunit")
ts("Packets processed per second", "By protocol.",
   [target(f'sum by (proto) (rate(tamperwatch_packets_total{{{SEL}}}[{RI}]))', "{{proto}}")],
   {"h": 8, "w": 8, "x": 8, "y": y}, unit="pps", stack=True)
ts("Decode errors (share of packets)", "By reason; a rising share means a capture problem or hostile input.",
   [target(f'sum by (reason) (rate(tamperwatch_decode_errors_total{{{SEL}}}[{RI}]))\n'
           f'/ scalar(sum(rate(tamperwatch_packets_total{{{SEL}}}[{RI}])) > 0)', "{{reason}}")],
   {"h": 8, "w": 8, "x": 16, "y": y}, unit="percentunit")
y += 8
ts("Seconds since the newest packet", "Large on a busy link: the capture is stuck.",
   [target(f'time() - (tamperwatch_last_packet_timestamp_seconds{{{SEL}}} > 0)', "{{instance}}")],
   {"h": 7, "w": 8, "x": 0, "y": y}, unit="s")
ts("Events lost", "Events detected but not written (disk full, writer behind). Should stay 0.",
   [target(f'sum by (instance, reason) (rate(tamperwatch_events_dropped_total{{{SEL}}}[{RI}]))', "{{instance}} {{reason}}")],
   {"h": 7, "w": 8, "x": 8, "y": y}, unit="ops")
ts("Flow table evictions", "Flows pushed out of full tables: table_full (raise max_flows) or half_open_full (a scan or SYN flood); servers: per-server baselines pushed out of a full per-server table (raise max_servers).",
   [target(f'sum by (reason) (rate(tamperwatch_flow_evictions_total{{{SEL}}}[{RI}]))', "{{reason}}"),
    target(f'sum(rate(tamperwatch_server_evictions_total{{{SEL}}}[{RI}]))', "servers")],
   {"h": 7, "w": 8, "x": 16, "y": y}, unit="ops")
y += 7

VANTAGE_SEL = '{__name__=~"tamperwatch_vantage_info|tamperwatch_build_info",country=~"$country",vantage=~"$vantage"}'
dashboard = {
    "title": "tamperwatch",
    "uid": "tamperwatch-overview",
    "description": "Network tampering seen by tamperwatch vantage points: detections as shares, blind state, capture health.",
    "tags": ["tamperwatch", "censorship"],
    "timezone": "utc",
    "editable": True,
    "graphTooltip": 1,
    "refresh": "1m",
    "schemaVersion": 39,
    "version": 1,
    "time": {"from": "now-24h", "to": "now"},
    "annotations": {"list": [{
        "name": "tamperwatch alerts", "datasource": DS, "enable": True, "iconColor": "red",
        "expr": 'ALERTS{alertname=~"Tamperwatch.*",alertstate="firing",' + SEL + '}',
        "titleFormat": "{{alertname}}", "textFormat": "{{signature}} {{interface}}",
        "step": "1m", "useValueForTime": False}]},
    "templating": {"list": [
        {"type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": ""},
        {"type": "query", "name": "country", "label": "Country", "datasource": DS,
         "query": {"query": "label_values(tamperwatch_vantage_info, country)", "refId": "country"},
         "definition": "label_values(tamperwatch_vantage_info, country)",
         "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1, "current": {}},
        {"type": "query", "name": "vantage", "label": "Vantage point", "datasource": DS,
         "query": {"query": 'label_values(tamperwatch_vantage_info{country=~"$country"}, vantage)', "refId": "vantage"},
         "definition": 'label_values(tamperwatch_vantage_info{country=~"$country"}, vantage)',
         "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1, "current": {}},
        # With "All" selected, instances without [vantage] labels (matched through
        # tamperwatch_build_info, whose empty vantage label matches ".*") are listed too.
        {"type": "query", "name": "instance", "label": "Instance", "datasource": DS,
         "query": {"query": f"label_values({VANTAGE_SEL}, instance)", "refId": "instance"},
         "definition": f"label_values({VANTAGE_SEL}, instance)",
         "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1, "current": {}},
        {"type": "query", "name": "group", "label": "Watched group", "datasource": DS,
         "query": {"query": f'label_values(tamperwatch_detections_total{{{SEL}}}, group)', "refId": "group"},
         "definition": f'label_values(tamperwatch_detections_total{{{SEL}}}, group)',
         "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1, "current": {}},
        {"type": "custom", "name": "signature", "label": "Signature",
         "query": ",".join(DENOMINATORS.keys()),
         "options": [{"text": s, "value": s, "selected": False} for s in DENOMINATORS],
         "includeAll": True, "allValue": ".*", "multi": True, "current": {"text": "All", "value": "$__all"}},
    ]},
    "panels": panels,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards", "tamperwatch.json")
with open(out, "w") as f:
    json.dump(dashboard, f, indent=2)
    f.write("\n")
print(out)
