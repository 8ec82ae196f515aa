from django.apps import AppConfig


class CommissionsConfig(AppConfig):
    name = "apps.commissions"
    label = "commissions"

    def ready(self) -> None:
        from apps.commissions import audit  # noqa: F401
        from apps.commissions.handlers import enrolment_invitation_deliver
        from apps.commissions.receivers import end_enrolments
        from apps.commissions.services import INVITATION_TOPIC
        from apps.commissions.signals import entitlement_ended
        from apps.outbox import registry as outbox

        entitlement_ended.connect(end_enrolments, dispatch_uid="commissions.end_enrolments")
        outbox.register(INVITATION_TOPIC, enrolment_invitation_deliver)
