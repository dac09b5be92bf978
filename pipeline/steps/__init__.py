"""The Coze step's logic, free of Dagster: a client, a recorder and the work list in; progress out."""
