
app_name = "issuance"
urlpatterns: list = []  # type: ignore[type-arg]
