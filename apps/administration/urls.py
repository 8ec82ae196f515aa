"""Administration pages (journey 1). Mounted at /administration/."""

from django.urls import path

from apps.administration import auditlog, clients, emergency, sessions, views

app_name = "administration"
urlpatterns = [
    path("", views.person_list, name="person_list"),
    path("people/new/", views.joiner_register, name="joiner_register"),
    path("people/<uuid:person_id>/", views.person_detail, name="person_detail"),
    path("people/<uuid:person_id>/accounts/<uuid:user_id>/invitation/", views.enrolment_resend,
         name="enrolment_resend"),
    path("people/<uuid:person_id>/commissions/new/", views.commission_grant, name="commission_grant"),
    path("people/<uuid:person_id>/commissions/<uuid:commission_id>/end/", views.commission_end,
         name="commission_end"),
    path("people/<uuid:person_id>/leave/", views.person_leave, name="person_leave"),
    path("people/<uuid:person_id>/planned-leaves/<uuid:planned_id>/cancel/",
         views.planned_leave_cancel, name="planned_leave_cancel"),
    path("people/<uuid:person_id>/employees/<uuid:employee_id>/move/", views.employee_move,
         name="employee_move"),
    path("people/<uuid:person_id>/roles/new/", views.role_grant, name="role_grant"),
    path("people/<uuid:person_id>/roles/<uuid:assignment_id>/end/", views.role_end, name="role_end"),
    path("people/<uuid:person_id>/accounts/<uuid:user_id>/deactivate/", views.account_active,
         {"active": False}, name="account_deactivate"),
    path("people/<uuid:person_id>/accounts/<uuid:user_id>/reactivate/", views.account_active,
         {"active": True}, name="account_reactivate"),
    path("people/<uuid:person_id>/sessions/<uuid:session_id>/end/", sessions.session_end,
         name="session_end"),
    path("people/<uuid:person_id>/sessions/end-all/", sessions.sessions_end_all,
         name="sessions_end_all"),
    path("audit/", auditlog.audit_search, name="audit_search"),
    path("audit/export/", auditlog.audit_export, name="audit_export"),
    path("emergency-access/", emergency.emergency_list, name="emergency_list"),
    path("emergency-access/<uuid:opening_id>/", emergency.emergency_detail,
         name="emergency_detail"),
    path("clients/", clients.client_list, name="client_list"),
    path("clients/new/", clients.client_register, name="client_register"),
    path("clients/<uuid:client_id>/", clients.client_detail, name="client_detail"),
    path("clients/<uuid:client_id>/approve/", clients.client_approve, name="client_approve"),
    path("clients/<uuid:client_id>/suspend/", clients.client_suspend, name="client_suspend"),
    path("clients/<uuid:client_id>/secret/", clients.client_secret_rotate,
         name="client_secret_rotate"),
    path("clients/<uuid:client_id>/credentials/", clients.client_credentials_shown,
         name="client_credentials_shown"),
]
