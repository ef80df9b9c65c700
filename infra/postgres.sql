-- The claims ledger's role and database (run as a superuser once).
CREATE ROLE claims LOGIN PASSWORD 'change-me';
CREATE DATABASE claims OWNER claims;
-- Then, as the application: CLAIMS_DATABASE_URL=postgresql+psycopg2://claims:…@host/claims claims db upgrade
