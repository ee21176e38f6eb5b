"""Follow-up of failed samples (核查处置): cases, their steps and legal deadlines, progress, overdue notices."""
