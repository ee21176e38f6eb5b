"""Reports: the monthly trend export for the bureau's monthly meeting (xlsx, PDF, CSV)."""
