"""Self-service pages: staff e-IDs (`eids`), patient consents and log (`patient`), and staff
registering consent or emergency access for a present patient (`care`)."""

from django.urls import path

from apps.selfservice import care, eids, patient

app_name = "selfservice"
urlpatterns = [
    path("my/eids/", eids.placeholder, name="my_eids"),
    path("patient/", patient.placeholder, name="patient_consents"),
    path("patient/log/", patient.placeholder, name="patient_log"),
    path("care/consent/", care.placeholder, name="care_consent"),
]
