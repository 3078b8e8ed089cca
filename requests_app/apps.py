from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    verbose_name = "Borrowing requests"

    def ready(self):
        # Register the Celery tasks in every process, the web's too: the outbox queues
        # them by name (requests_app.notifications.SEND_TASK).
        from . import tasks  # noqa: F401
