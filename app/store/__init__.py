"""The only code that speaks SQL: schema, migrations and repositories."""
