"""Payouts: the daily payout batches to workers' bank accounts and the files that
carry them to the paying agencies' banks (ISO 20022 pain.001.001.09, see
``claims.payouts.pain001``)."""
