from django.urls import path

from apps.administration import views

app_name = "administration"
urlpatterns = [path("", views.placeholder, name="person_list")]
