from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # An archive's manifest holds its days' seal heads, and an archived table is dropped only
        # when its file still chains to them (docs/audit-log.md, "Retention and archive").
        from apps.audit import archive, integrity

        if integrity.manifest_seals not in archive.manifest_extra:
            archive.manifest_extra.append(integrity.manifest_seals)
        if integrity.archive_matches_seals not in archive.drop_checks:
            archive.drop_checks.append(integrity.archive_matches_seals)
