"""Great Expectations (1.x) as the second opinion on ingested rows.

``validations.suites`` builds the orders/claims suites from reference data,
``validations.expectations`` holds the custom resident-ID and card-number
expectations, ``validations.runner`` runs them and writes sample-free results
and Data Docs. Importing this package itself imports nothing of GE.
"""
