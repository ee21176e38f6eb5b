"""Dashboards: Grafana dashboards as code (grafana-foundation-sdk), generated into dashboards/json/."""
