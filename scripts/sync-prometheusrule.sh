#!/usr/bin/env bash
# Regenerates k8s/components/monitoring/prometheusrule.yaml from configs/prometheus/alerts.yml (one source of rules).
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 - <<'PY'
import yaml
rules = yaml.safe_load(open("configs/prometheus/alerts.yml"))
doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
       "metadata": {"name": "arginator",
                    "labels": {"app.kubernetes.io/name": "arginator-server",
                               "app.kubernetes.io/component": "monitoring"}},
       "spec": rules}
with open("k8s/components/monitoring/prometheusrule.yaml", "w") as out:
    out.write("# The alert rules of configs/prometheus/alerts.yml for the Prometheus Operator; a test keeps the\n"
              "# two identical (tests/deploy/deploy_test.cc). Regenerate after editing alerts.yml:\n"
              "#   scripts/sync-prometheusrule.sh\n")
    out.write(yaml.safe_dump(doc, sort_keys=False, width=200))
PY
