// Model: load a weight file (picker, drop anywhere, or the one the server was given), its config, size and test
// log-likelihood, and which model the other panels use.
import type { JSX } from 'preact';
import type { ServedModel } from '../protocol.js';
import {
  cancelEvaluation, client, evalDataset, evalState, evaluateModel, fileModelName, loadModelFile, loadServedModel, manifest, messageOf, model,
  modelLoading, modelMessage, notify, servedModel, trainState,
} from '../store.js';
import { Message, Panel, ProgressBar, fmt } from './common.js';

const megabytes = (bytes: number): string => `${fmt(bytes / 1e6, bytes < 1e7 ? 1 : 0)} MB`;

/** The models that ship with the studio: a card each, with its measured test figures; a click loads it. */
function Gallery({ entries }: { entries: ServedModel[] }): JSX.Element {
  const current = model.value?.source === 'file' ? servedModel.value?.name : undefined;
  return (
    <ul class="gallery" data-testid="model-gallery" aria-label="trained models that ship with the studio">
      {entries.map((g) => (
        <li key={g.url}>
          <button
            type="button" data-testid="gallery-entry" data-name={g.name} class={`gallery-entry${current === g.name ? ' on' : ''}`}
            disabled={!!modelLoading.value} aria-pressed={current === g.name} title={g.note}
            onClick={() => void loadServedModel(g)}
          >
            <strong>{g.label ?? g.name}</strong>
            <span class="mono-small">
              {g.test ? <>{fmt(g.test.logLikelihood, 1)} nats · {fmt(g.test.bitsPerDim, 3)} bits/dim{g.test.accuracy !== undefined && <> · {fmt(100 * g.test.accuracy, 1)}% accuracy</>}</> : 'not measured'}
              {g.params !== undefined && <> · {fmt(g.params / 1e6, 2)} M parameters</>}
              {g.bytes !== undefined && <> · {megabytes(g.bytes)}</>}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function describe(): string {
  const m = model.value;
  if (!m) return '';
  const c = m.config;
  const shape = m.shape.join('×');
  return `${m.dim} dimensions (${shape}) · ${m.summary} · ${c.prior} prior${c.whiten ? ' · ZCA whitening' : ''} · ${fmt(m.params / 1e6, 2)} M parameters`;
}

export function ModelPanel(): JSX.Element {
  const m = model.value;
  const ev = evalState.value;
  const run = trainState.value;
  const hasRun = !['none', 'loading', 'elsewhere', 'failed'].includes(run.phase);
  const served = manifest.value.models;
  const datasets = manifest.value.datasets;
  return (
    <Panel title="Model" subtitle="A NICE model in nats and bits per dimension">
      <div class="row wrap">
        <label class="file-button">
          <input
            type="file"
            accept=".safetensors,application/octet-stream"
            data-testid="model-file"
            disabled={!!modelLoading.value}
            onChange={(e) => {
              const input = e.currentTarget;
              const file = input.files?.[0];
              input.value = '';
              if (file) void loadModelFile(file);
            }}
          />
          <span class="button">Open .safetensors…</span>
        </label>
        <span class="hint">or drop one anywhere on the page</span>
        {served.length > 1 && (
          <select
            aria-label="models given to the server"
            onChange={(e) => {
              const s = served[Number(e.currentTarget.value)];
              if (s) void loadServedModel(s);
            }}
          >
            {served.map((s, i) => <option key={s.url} value={i}>{s.name}</option>)}
          </select>
        )}
      </div>
      {manifest.value.gallery.length > 0 && <Gallery entries={manifest.value.gallery} />}
      {modelLoading.value && <ProgressBar done={0} total={null} label={modelLoading.value} />}
      <Message text={modelMessage.value} testid="model-message" />
      {m ? (
        <div class="model-info">
          <p class="model-name">
            <strong>{m.name}</strong>
          </p>
          <p data-testid="model-info" class="mono-small">{describe()}</p>
          {(fileModelName.value && hasRun) && (
            <div class="segmented" role="radiogroup" aria-label="model used by the panels">
              <button type="button" class={m.source === 'file' ? 'on' : ''} data-testid="use-file" onClick={() => void client.run('use-model', { source: 'file' }).catch((e) => notify('error', messageOf(e)))}>
                File: {fileModelName.value}
              </button>
              <button type="button" class={m.source === 'run' ? 'on' : ''} data-testid="use-run" onClick={() => void client.run('use-model', { source: 'run' }).catch((e) => notify('error', messageOf(e)))}>
                Training run
              </button>
            </div>
          )}
          <div class="eval" data-testid="model-eval">
            {ev.status === 'running' && (
              <ProgressBar done={ev.done ?? 0} total={ev.total ?? null} label={ev.label ?? 'evaluating'} onCancel={cancelEvaluation} testid="eval-progress" />
            )}
            {ev.status === 'done' && (
              <p class="metric">
                <span class="big">{fmt(ev.logLikelihood, 1)}</span> nats <span class="sep">·</span> <span class="big">{fmt(ev.bitsPerDim, 3)}</span> bits/dim
                <span class="hint"> test log-likelihood on {ev.dataset} ({ev.n?.toLocaleString('en-US')} images, ± {fmt(ev.stdError, (ev.stdError ?? 0) < 1 ? 2 : 1)})</span>
              </p>
            )}
            {(ev.status === 'failed' || ev.status === 'cancelled') && <Message text={ev.message} level={ev.status === 'cancelled' ? 'info' : 'error'} />}
            {ev.status !== 'running' && datasets.some((d) => d.shape[0] * d.shape[1] * d.shape[2] === m.dim) && (
              <div class="row">
                <select value={evalDataset.value} aria-label="test set" onChange={(e) => (evalDataset.value = e.currentTarget.value)} data-testid="eval-dataset">
                  {datasets.filter((d) => d.shape[0] * d.shape[1] * d.shape[2] === m.dim).map((d) => <option key={d.name} value={d.name}>{d.label} test set</option>)}
                </select>
                <button type="button" class="small" data-testid="eval-button" onClick={() => void evaluateModel()}>
                  Evaluate
                </button>
              </div>
            )}
          </div>
        </div>
      ) : (
        !modelLoading.value && <p class="placeholder">No model yet: pick one above, open a <code>.safetensors</code> file (e.g. <code>runs/mnist/model.safetensors</code> from <code>nice-flow train</code>), or train one below.</p>
      )}
    </Panel>
  );
}
