"""What alerts, dashboards and reports share about an indicator: windows, statistics, filter, measure, labels."""
