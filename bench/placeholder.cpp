// Populated by the scenario issue.
