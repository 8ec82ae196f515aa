"""Self-service pages. Each module owns its routes: staff e-IDs and issuing (`eids`), patient
consents and log extract (`patient`), staff registering consent or emergency access (`care`), staff
registering and changing blocks (`care_blocks`), the
user's own login sessions (`sessions`), the e-services they authorised
(`eservices`), the staff member's own account (`account`)."""

from apps.selfservice import account, care, care_blocks, eids, eservices, patient, sessions

app_name = "selfservice"
urlpatterns = [*eids.urlpatterns, *patient.urlpatterns, *care.urlpatterns,
               *care_blocks.urlpatterns, *sessions.urlpatterns,
               *eservices.urlpatterns, *account.urlpatterns]
