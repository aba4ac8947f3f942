"""Column types shared by the models, portable across SQLite, PostgreSQL and MariaDB."""

from sqlalchemy import JSON, LargeBinary, String, Text
from sqlalchemy.dialects import mysql

# MySQL's TEXT and BLOB stop at 64 KiB; a served spec may approach the 1 MiB body limit.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LongBlob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
Json = JSON()
Uuid = String(36)
Digest = String(64)
Name = String(255)
# Compared as exact strings everywhere: MySQL and MariaDB default to case-insensitive
# collations (utf8mb4_general_ci), under which 1.0.0-rc.1 and 1.0.0-RC.1 would collide.
ExactString255 = String(255).with_variant(
    mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb"
)
