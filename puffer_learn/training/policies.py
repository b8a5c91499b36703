"""Policies: small networks that map observations to action logits and a value.

Every policy has the same small interface, so the trainer never needs to know
which one it runs:

    logits, value, state = policy(obs, state)

    obs     float tensor [batch, obs_size]
    logits  [batch, num_actions]: unnormalized log-probabilities of each action
    value   [batch]: the critic's estimate of the return from this observation
    state   the memory to pass back in on the next step: None for policies
            without memory, a tuple of [batch, ...] tensors for recurrent ones

    state = policy.initial_state(batch, device)    # memory at an episode start
    state = policy.mask_state(state, ended)         # forget where an episode ended
    state = policy.state_rows(state, rows)          # the memory of some rows (a minibatch)
    logits, values, state = policy.forward_sequence(obs, state, ended)
                                                    # replay [T, batch, ...] steps

`Policy` gives the stateless versions of these (no memory: nothing
to start, forget or carry), so MLP and EntityPolicy only write forward();
LSTMPolicy overrides them.

Layers are plain nn.Linear / nn.LSTMCell with ReLU, so the C inference lesson
can reimplement exactly the same computation. Lessons import these classes,
subclass them, or write their own: subclass Policy, take the constructor
`Policy(obs_size, num_actions, **settings)` and write forward().

The actions come from the logits as a categorical distribution; the three
functions at the end (log_prob, sample_actions, entropy) are the only places
that turn logits into probabilities.
"""
import torch
from torch import nn


def layer_init(layer, std=2**0.5, bias=0.0):
    """Orthogonal weights, constant bias: the usual PPO initialization. The
    small std on the action head (0.01) starts the policy near uniform, so it
    explores before it commits."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def relu_stack(in_size, hidden_size, layers):
    """Linear -> ReLU, `layers` times: the body of MLP and EntityPolicy."""
    blocks, width = [], in_size
    for _ in range(layers):
        blocks += [layer_init(nn.Linear(width, hidden_size)), nn.ReLU()]
        width = hidden_size
    return nn.Sequential(*blocks)


class Policy(nn.Module):
    """Base class: the trainer's interface, for a policy without memory."""
    is_recurrent = False

    def initial_state(self, batch, device=None):
        return None

    def mask_state(self, state, ended):
        return state

    def state_rows(self, state, rows):
        """The memory of some rows of the batch (a minibatch of agents)."""
        return state

    def forward_sequence(self, obs, state, ended):
        """obs [T, B, obs_size] -> logits [T, B, A], values [T, B], state.
        Without memory the steps are independent: one batch of T * B rows."""
        steps, batch = obs.shape[:2]
        logits, values, _ = self(obs.reshape(steps * batch, -1))
        return logits.reshape(steps, batch, -1), values.reshape(steps, batch), state


class MLP(Policy):
    """The default policy: a shared body, then an actor head and a critic head.

        obs -> Linear(obs_size, hidden) -> ReLU -> Linear(hidden, hidden) -> ReLU
            -> actor  Linear(hidden, num_actions)  = logits
            -> critic Linear(hidden, 1)            = value

    `layers` counts the hidden Linear+ReLU blocks of the body (2 above).
    """

    def __init__(self, obs_size, num_actions, hidden_size=128, layers=2):
        super().__init__()
        if layers < 1:
            raise ValueError(f"MLP needs at least 1 hidden layer, got layers={layers}")
        self.body = relu_stack(obs_size, hidden_size, layers)
        self.actor = layer_init(nn.Linear(hidden_size, num_actions), std=0.01)
        self.critic = layer_init(nn.Linear(hidden_size, 1), std=1.0)

    def forward(self, obs, state=None):
        hidden = self.body(obs)
        return self.actor(hidden), self.critic(hidden).squeeze(-1), state


class LSTMPolicy(Policy):
    """An MLP encoder, then an LSTM cell that carries memory between steps.

        obs -> Linear(obs_size, hidden) -> ReLU -> LSTMCell(hidden, hidden) -> h
            -> actor  Linear(hidden, num_actions)  = logits
            -> critic Linear(hidden, 1)            = value

    state = (h, c), each [batch, hidden]. The trainer carries it from step to
    step through a rollout and zeroes an agent's state when its episode ends,
    so memory never leaks from one episode into the next. For learning it
    replays each agent's whole segment from the state stored at the start of
    the rollout (forward_sequence), with the same resets at the same steps.
    """
    is_recurrent = True

    def __init__(self, obs_size, num_actions, hidden_size=128):
        super().__init__()
        self.hidden_size = hidden_size
        self.encoder = nn.Sequential(layer_init(nn.Linear(obs_size, hidden_size)), nn.ReLU())
        self.cell = nn.LSTMCell(hidden_size, hidden_size)
        for name, param in self.cell.named_parameters():
            if "bias" in name:
                nn.init.constant_(param, 0)
            else:
                nn.init.orthogonal_(param, 1.0)
        self.actor = layer_init(nn.Linear(hidden_size, num_actions), std=0.01)
        self.critic = layer_init(nn.Linear(hidden_size, 1), std=1.0)

    def initial_state(self, batch, device=None):
        zeros = torch.zeros(batch, self.hidden_size, device=device)
        return (zeros, zeros.clone())

    def forward(self, obs, state=None):
        if state is None:
            state = self.initial_state(obs.shape[0], obs.device)
        h, c = self.cell(self.encoder(obs), state)
        return self.actor(h), self.critic(h).squeeze(-1), (h, c)

    def mask_state(self, state, ended):
        """Zeroes the memory of the rows whose episode ended (ended: [B], bool or 0/1),
        so memory never leaks from one episode into the next."""
        keep = 1.0 - ended.to(state[0].device, state[0].dtype).unsqueeze(1)
        return tuple(s * keep for s in state)

    def state_rows(self, state, rows):
        return tuple(s[rows] for s in state)

    def forward_sequence(self, obs, state, ended):
        """Replays a segment: obs [T, B, obs_size], state at step 0, ended [T, B]
        (1 where the episode ended with step t). Returns logits [T, B, A],
        values [T, B] and the state after the last step."""
        logits, values = [], []
        for t in range(obs.shape[0]):
            step_logits, step_value, state = self(obs[t], state)
            state = self.mask_state(state, ended[t])
            logits.append(step_logits)
            values.append(step_value)
        return torch.stack(logits), torch.stack(values), state


class EntityPolicy(Policy):
    """An entity (point) encoder: one small layer shared by every object.

        obs = [self features | object 1 | object 2 | ... | object N]
        each object -> Linear(entity_size, entity_hidden) -> ReLU   (the SAME weights for all)
        max over objects -> pooled [entity_hidden]
        [self features, pooled] -> Linear -> ReLU (x layers) -> actor, critic

    Like a conv kernel slid over image patches, the shared layer learns one
    rule ("a gem near me is good") and applies it to every object, so object
    order does not matter: permuting objects gives the same output. The flat
    MLP instead learns separate weights for every slot.

    entity_layout = (self_size, num_entities, entity_size), as the env
    declares it (VecEnv.entity_layout); the trainer passes it in.
    """

    def __init__(self, obs_size, num_actions, entity_layout=None, hidden_size=128, layers=2,
                 entity_hidden=32):
        super().__init__()
        if entity_layout is None:
            raise ValueError("EntityPolicy needs entity_layout = (self_size, num_entities, "
                             "entity_size); an env declares it in env_spaces (num_entities, "
                             "entity_size), and its VecEnv.entity_layout is None without them")
        self_size, num_entities, entity_size = (int(x) for x in entity_layout)
        if self_size + num_entities * entity_size != obs_size:
            raise ValueError(f"entity_layout {tuple(entity_layout)} describes "
                             f"{self_size + num_entities * entity_size} numbers, obs_size is {obs_size}")
        self.entity_layout = (self_size, num_entities, entity_size)
        self.entity = nn.Sequential(layer_init(nn.Linear(entity_size, entity_hidden)), nn.ReLU())
        self.body = relu_stack(self_size + entity_hidden, hidden_size, layers)
        self.actor = layer_init(nn.Linear(hidden_size, num_actions), std=0.01)
        self.critic = layer_init(nn.Linear(hidden_size, 1), std=1.0)

    def forward(self, obs, state=None):
        self_size, num_entities, entity_size = self.entity_layout
        objects = obs[:, self_size:].reshape(obs.shape[0], num_entities, entity_size)
        pooled = self.entity(objects).amax(dim=1)  # [batch, entity_hidden]
        hidden = self.body(torch.cat([obs[:, :self_size], pooled], dim=1))
        return self.actor(hidden), self.critic(hidden).squeeze(-1), state


class FrameStack(Policy):
    """A fixed memory: the wrapped policy sees the last k observations side by
    side, the oldest first and the current one last (train setting
    frame_stack = k; policy_setup.build_policy wraps the [policy] in one).

        obs [batch, obs_size] -> stacked [batch, k * obs_size] -> inner policy

    Its state is the k - 1 previous observations (zeros at an episode start),
    plus the inner policy's own state, if any. The trainer carries it, zeroes
    it where an episode ended (mask_state) and replays it (forward_sequence)
    exactly like an LSTM's memory, and evaluation does the same, so a stack
    never mixes two episodes. What it cannot do is see further back than k - 1
    steps: an LSTM learns what to keep, a stack keeps the last k - 1 steps."""
    is_recurrent = True

    def __init__(self, inner, obs_size, k):
        super().__init__()
        self.inner, self.obs_size, self.k = inner, obs_size, k

    def initial_state(self, batch, device=None):
        past = torch.zeros(batch, (self.k - 1) * self.obs_size, device=device)
        return (past, self.inner.initial_state(batch, device))

    def forward(self, obs, state=None):
        past, inner_state = self.initial_state(obs.shape[0], obs.device) if state is None else state
        stacked = torch.cat([past, obs], dim=1)  # shift in the newest observation
        logits, value, inner_state = self.inner(stacked, inner_state)
        return logits, value, (stacked[:, self.obs_size:], inner_state)  # the oldest drops out

    def mask_state(self, state, ended):
        past, inner_state = state
        keep = 1.0 - ended.to(past.device, past.dtype).unsqueeze(1)
        return (past * keep, self.inner.mask_state(inner_state, ended))

    def state_rows(self, state, rows):
        past, inner_state = state
        return (past[rows], self.inner.state_rows(inner_state, rows))

    def forward_sequence(self, obs, state, ended):
        """Replays a segment [T, B, obs_size]: builds all T stacks at once
        (the same ones stepping forward() with mask_state gives), then runs
        the inner policy on them in one call."""
        past, inner_state = state
        steps, batch, n = obs.shape
        k = self.k
        if hasattr(self, "obs_norm"):  # forward() gets this from add_obs_norm's hook on calls;
            obs = self.obs_norm(obs)   # this replay is no call, so it normalizes itself
        # frames[i] is step i - (k - 1): the k - 1 carried in, then the segment's own
        frames = torch.cat([past.reshape(batch, k - 1, n).transpose(0, 1), obs])
        # ends_before[t] = episode ends at steps 0 .. t-1 of this segment
        ends_before = torch.cat([torch.zeros_like(ended[:1]), ended.cumsum(0)]).to(obs.dtype)
        slots = []
        for j in range(k):  # slot j of step t holds step t + j - (k - 1) ...
            first = (torch.arange(steps, device=obs.device) + j - (k - 1)).clamp(min=0)
            # ... unless an episode ended between that step and step t
            keep = (ends_before[:steps] == ends_before[first]).to(obs.dtype)
            slots.append(frames[j:j + steps] * keep.unsqueeze(-1))
        stacked = torch.cat(slots, dim=-1)  # [T, B, k * obs_size]
        logits, values, inner_state = self.inner.forward_sequence(stacked, inner_state, ended)
        last_past = stacked[-1, :, n:] * (1.0 - ended[-1].to(obs.dtype)).unsqueeze(-1)
        return logits, values, (last_past, inner_state)


class ObsNorm(nn.Module):
    """Running mean / std observation normalization (what SB3's VecNormalize
    and Gymnasium's NormalizeObservation do): obs -> (obs - mean) / std, with
    mean and variance over every observation seen so far. Buffers, not
    parameters: the optimizer never touches them, and the checkpoint saves
    them with the weights, so evaluation and the C export use the same ones."""

    def __init__(self, obs_size):
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(obs_size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(obs_size, dtype=torch.float64))

    def forward(self, obs):
        return (obs - self.mean.to(obs.dtype)) / torch.sqrt(self.var.to(obs.dtype) + 1e-8)

    @torch.no_grad()
    def update(self, batch):
        """Merges a batch [rows, obs_size] into the running statistics (Chan et al.)."""
        batch = batch.reshape(-1, self.mean.shape[0]).to(torch.float64)
        n, mean, var = batch.shape[0], batch.mean(0), batch.var(0, unbiased=False)
        total = self.count + n
        delta = mean - self.mean
        self.var.copy_((self.var * self.count + var * n + delta ** 2 * self.count * n / total) / total)
        self.mean.add_(delta * n / total)
        self.count.copy_(total)


def _normalize_input(policy, args):
    return (policy.obs_norm(args[0]),) + tuple(args[1:])


def add_obs_norm(policy, obs_size):
    """Gives a policy an ObsNorm in front: policy(obs) then normalizes obs
    first (every call: rollout, learning replay, evaluation). The trainer
    updates policy.obs_norm (train setting obs_norm = true)."""
    policy.obs_norm = ObsNorm(obs_size)
    policy.register_forward_pre_hook(_normalize_input)
    return policy


class GaussianHead(nn.Module):
    """The actor of a policy for continuous actions: the mean of each action
    float from the hidden state, and a log standard deviation that does not
    depend on the observation (one learned number per float, CleanRL's choice;
    a std computed from the state tended to shrink before the mean had learned
    to steer). It outputs [mean, log std], 2 x num_actions numbers, exactly as
    a Linear layer with `weight` and `bias` below would: the C export writes it
    as that layer."""

    def __init__(self, in_features, num_actions, log_std=-0.5):
        super().__init__()
        self.in_features, self.out_features = in_features, 2 * num_actions
        self.mean = layer_init(nn.Linear(in_features, num_actions), std=0.01)
        self.log_std = nn.Parameter(torch.full((num_actions,), float(log_std)))

    def forward(self, hidden):
        mean = self.mean(hidden)
        return torch.cat([mean, self.log_std.expand_as(mean)], dim=-1)

    @property
    def weight(self):  # the log std rows read nothing of the hidden state
        return torch.cat([self.mean.weight, torch.zeros_like(self.mean.weight)])

    @property
    def bias(self):
        return torch.cat([self.mean.bias, self.log_std])


def with_gaussian_head(policy):
    """Gives a policy built with 2 x num_actions outputs a GaussianHead as its
    actor (the policies here keep their actor in `.actor`; a FrameStack's is
    its inner policy's). A policy of your own without a Linear `.actor` is left
    as it is: its 2 x num_actions outputs are read as [mean, log std]."""
    inner = policy.inner if isinstance(policy, FrameStack) else policy
    actor = getattr(inner, "actor", None)
    if isinstance(actor, nn.Linear):
        inner.actor = GaussianHead(actor.in_features, actor.out_features // 2)
    return policy


# Names usable in train.toml's [policy] section: name = "mlp"
POLICIES = {"mlp": MLP, "lstm": LSTMPolicy, "entity": EntityPolicy}


# ---- From logits to actions: a categorical distribution -------------------------
def log_prob(logits, actions):
    """log pi(action | obs) for each row: the one way log-probabilities are computed."""
    return torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def sample_actions(logits, deterministic=False, generator=None):
    """Samples one action per row; returns (actions, their log-probabilities).
    deterministic=True takes the argmax instead (can get an agent stuck).
    generator: a torch.Generator for reproducible sampling (evaluation)."""
    logp = torch.log_softmax(logits, -1)
    if deterministic:
        actions = logp.argmax(-1)
    else:
        actions = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
    return actions, log_prob(logits, actions)


def entropy(logits):
    """Mean entropy of the categorical distributions given by logits (nats)."""
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp).sum(-1).mean()
