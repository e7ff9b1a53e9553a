"""The site's state database: one SQLite file under the state folder, migrated in order."""
