"""docs/configuration.md lists every setting common/config.c knows, with its key and variable."""
import os
import re
import unittest

SOURCE = os.environ.get("PGW_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class ConfigurationDoc(unittest.TestCase):
    def test_every_setting_documented(self):
        with open(os.path.join(SOURCE, "common", "config.c")) as f:
            settings = re.findall(r'\{"([A-Za-z0-9.]+)", "(PGWARDEN_[A-Z0-9_]+)", SETTING_', f.read())
        self.assertGreater(len(settings), 40)
        with open(os.path.join(SOURCE, "docs", "configuration.md")) as f:
            doc = f.read()
        missing = []
        for key, env in settings:
            # Families are documented once with a placeholder: images.postgres.14 … 18, resources.<sidecar>.…
            generic_key = re.sub(r"^resources\.(pgbouncer|exporter|pgbackrest)\.", "resources.<sidecar>.", key)
            generic_env = re.sub(r"^PGWARDEN_(PGBOUNCER|EXPORTER|PGBACKREST)_", "PGWARDEN_<SIDECAR>_", env)
            if key.startswith("images.postgres."):
                generic_key, generic_env = "images.postgres.14", "PGWARDEN_IMAGE_POSTGRES_14"
            if f"`{generic_key}`" not in doc or f"`{generic_env}" not in doc:
                missing.append(key)
        self.assertEqual(missing, [], "settings missing from docs/configuration.md")


if __name__ == "__main__":
    unittest.main()
