"""The instances a national (or provincial) qsmon federates, from a YAML file:

```yaml
instances:
  - name: hubei                              # how the national view names it
    url: https://qsmon.hubei.example/api     # its read API
    token_env: QSMON_FEDERATION_TOKEN_HUBEI  # the environment variable holding its `public` token
```

Tokens stay out of the file: each is read from its environment variable when the instance is pulled. A `public`
token is enough (aggregates and published failures); it is the least the instance needs to grant.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from qsmon.exceptions import ConfigError


class Instance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    token_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]
    timeout_s: float = Field(default=60.0, gt=0, le=600)

    def token(self) -> str:
        value = os.environ.get(self.token_env, "").strip()
        if not value:
            raise ConfigError("the instance's token is not set", instance=self.name, variable=self.token_env)
        return value


class Instances(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instances: list[Instance] = Field(min_length=1)


def load_instances(path: Path | None) -> list[Instance]:
    if path is None:
        raise ConfigError("no instances to federate: set QSMON_FEDERATION_INSTANCES_FILE")
    try:
        loaded = Instances.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("cannot read the federation instances file", path=str(path), error=str(exc)) from None
    except ValidationError as exc:
        raise ConfigError(
            "the federation instances file is invalid",
            path=str(path),
            error="; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
        ) from None
    names = [i.name for i in loaded.instances]
    if len(names) != len(set(names)):
        raise ConfigError("two instances have one name", path=str(path))
    return loaded.instances
