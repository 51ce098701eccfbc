from django.urls import path

from . import views

app_name = "workbench"
urlpatterns = [
    path("", views.scan, name="scan"),
    path("batch/", views.batch, name="batch"),
    path("board/", views.board_page, name="board"),
    path("board/act/", views.board_act, name="board-act"),
    path("intake/", views.intake, name="intake"),
    path("returns/", views.returns, name="returns"),
    path("labels/", views.labels, name="labels"),
    path("unit/<str:asset_tag>/", views.unit_page, name="unit"),
    path("unit/<str:asset_tag>/act/", views.unit_act, name="unit-act"),
    path("unit/<str:asset_tag>/inspect/", views.inspect, name="inspect"),
]
