// Train in the page: a TrainingRun in the Worker (the CLI's run: best model by validation, checkpoints), kept in
// IndexedDB so a reload continues it; a live chart, samples per second and the sample grid of each epoch.
import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import type { TrainSettings, TrainSize } from '../protocol.js';
import { checkTrainSettings, paramCount, TRAIN_SIZES } from '../sizes.js';
import { client, epochSamples, manifest, messageOf, notify, stepTrace, trainLog, trainState, validation } from '../store.js';
import { Chart, ImageGrid, Message, Panel, ProgressBar, fmt } from './common.js';

const PHASE_TEXT: Record<string, string> = {
  none: 'no run yet', loading: 'loading', running: 'training', validating: 'validating', pausing: 'pausing…', paused: 'paused',
  done: 'done', diverged: 'diverged', failed: 'stopped', elsewhere: 'in another tab',
};

/** A typed number (NaN when it is not one: the shared check then names the text). */
const num = (text: string): number => (text.trim() === '' ? NaN : Number(text));
const optional = (text: string): number | undefined => (text.trim() === '' ? undefined : num(text));

export function TrainPanel(): JSX.Element {
  const st = trainState.value;
  const datasets = manifest.value.datasets;
  const [dataset, setDataset] = useState('mnist');
  const [size, setSize] = useState<TrainSize>('small');
  const [lr, setLr] = useState('0.001');
  const [epochs, setEpochs] = useState(String(TRAIN_SIZES.small.epochs));
  const [batchSize, setBatchSize] = useState('200');
  const [limit, setLimit] = useState('');
  const [validLimit, setValidLimit] = useState('');
  const [seed, setSeed] = useState('0');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirmDiscard, setConfirmDiscard] = useState(false);

  useEffect(() => {
    if (datasets.length && !datasets.some((d) => d.name === dataset)) setDataset(datasets[0].name);
  }, [datasets]);

  // A run restored from IndexedDB shows its own settings.
  useEffect(() => {
    const s = st.settings;
    if (!s) return;
    setDataset(s.dataset);
    setSize(s.size);
    setLr(String(s.lr));
    setEpochs(String(s.epochs));
    setBatchSize(String(s.batchSize));
    setLimit(s.limit ? String(s.limit) : '');
    setValidLimit(s.validLimit ? String(s.validLimit) : '');
    setSeed(String(s.seed));
  }, [st.settings]);

  const settings = (): TrainSettings => {
    const s: TrainSettings = { dataset, size, lr: num(lr), epochs: num(epochs), batchSize: num(batchSize), limit: optional(limit), validLimit: optional(validLimit), seed: num(seed) };
    checkTrainSettings(s, { lr, epochs, batchSize, limit, validLimit, seed });
    return s;
  };

  const act = async (what: string, body: () => Promise<unknown>): Promise<void> => {
    setError(null);
    setBusy(what);
    try {
      await body();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(null);
    }
  };

  const start = (): Promise<void> => act('start', async () => {
    if (st.phase === 'paused' || st.phase === 'failed') {
      if (st.settings) await client.run('train-resume', {});
      else await client.run('train-start', { settings: settings() });
    } else await client.run('train-start', { settings: settings() });
  });
  const pause = (): Promise<void> => act('pause', () => client.run('train-pause', {}));
  const discard = (): Promise<void> => act('discard', async () => {
    setConfirmDiscard(false);
    await client.run('train-discard', {});
  });
  const download = (): Promise<void> => act('download', async () => {
    const r = await client.run('train-model-bytes', {});
    const url = URL.createObjectURL(new Blob([r.bytes as BlobPart], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'model.safetensors';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    notify('info', `downloaded model.safetensors: ${r.what}`);
  });

  const log = trainLog.value;
  const trace = stepTrace.value;
  const chartData = useMemo<uPlot.AlignedData>(() => {
    const rows = new Map<number, [number | null, number | null, number | null]>();
    trace.steps.forEach((s, i) => rows.set(s, [trace.values[i], null, null]));
    for (const e of log) {
      const r = rows.get(e.step) ?? [null, null, null];
      r[1] = e.trainLogLikelihood;
      r[2] = e.validLogLikelihood;
      rows.set(e.step, r);
    }
    const xs = [...rows.keys()].sort((a, b) => a - b);
    return [xs, xs.map((x) => rows.get(x)![0]), xs.map((x) => rows.get(x)![1]), xs.map((x) => rows.get(x)![2])];
  }, [trace, log]);
  const chartOptions = useMemo<Omit<uPlot.Options, 'width'>>(() => ({
    height: 190,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false } },
    axes: [
      { label: 'step', labelSize: 18, size: 32, font: '11px system-ui', labelFont: '11px system-ui', stroke: '#64748b' },
      { label: 'log-likelihood (nats)', labelSize: 18, size: 56, font: '11px system-ui', labelFont: '11px system-ui', stroke: '#64748b' },
    ],
    series: [
      { label: 'step' },
      { label: 'batch (smoothed)', stroke: '#a5b4fc', width: 1.5, spanGaps: true, points: { show: false } },
      { label: 'train (epoch)', stroke: '#4f46e5', width: 2, spanGaps: true, points: { show: true, size: 6 } },
      { label: 'validation', stroke: '#f97316', width: 2, spanGaps: true, points: { show: true, size: 6 } },
    ],
  }), []);

  const running = ['running', 'validating', 'pausing', 'loading'].includes(st.phase);
  const locked = st.phase !== 'none';
  const canStart = !busy && (st.phase === 'none' || st.phase === 'paused' || (st.phase === 'failed' && !!st.settings)) && datasets.length > 0;
  const last = log.at(-1);
  const spec = TRAIN_SIZES[size];
  const statusParts = [
    `step ${st.step.toLocaleString('en-US')}${st.stopAt ? ` / ${st.stopAt.toLocaleString('en-US')}` : ''}`,
    st.stepsPerEpoch ? `epoch ${Math.min(st.epoch + 1, Math.ceil(st.stopAt / st.stepsPerEpoch))}` : null,
    st.samplesPerSecond ? `${Math.round(st.samplesPerSecond).toLocaleString('en-US')} samples/s` : null,
    PHASE_TEXT[st.phase] ?? st.phase,
  ].filter(Boolean);

  return (
    <Panel title="Train" subtitle="Maximum likelihood with Adam, in a Worker; kept in this browser">
      <div class="form-grid">
        <label>
          Data
          <select value={dataset} disabled={locked} data-testid="train-dataset" onChange={(e) => setDataset(e.currentTarget.value)}>
            {datasets.map((d) => <option key={d.name} value={d.name}>{d.label}</option>)}
          </select>
        </label>
        <label class="wide">
          Model
          <select value={size} disabled={locked} data-testid="train-size" onChange={(e) => {
            const s = e.currentTarget.value as TrainSize;
            setSize(s);
            setEpochs(String(TRAIN_SIZES[s].epochs));
          }}>
            {(Object.keys(TRAIN_SIZES) as TrainSize[]).map((k) => (
              <option key={k} value={k}>{TRAIN_SIZES[k].label} ({fmt(paramCount(TRAIN_SIZES[k], datasets.find((d) => d.name === dataset)?.shape) / 1e6, 1)} M)</option>
            ))}
          </select>
        </label>
        <label>
          Learning rate
          <input value={lr} disabled={locked} class="num" inputMode="decimal" data-testid="train-lr" onInput={(e) => setLr(e.currentTarget.value)} />
        </label>
        <label>
          Epochs
          <input value={epochs} disabled={locked} class="num" inputMode="numeric" data-testid="train-epochs" onInput={(e) => setEpochs(e.currentTarget.value)} />
        </label>
      </div>
      <details class="advanced">
        <summary>More settings</summary>
        <div class="form-grid">
          <label>
            Batch size
            <input value={batchSize} disabled={locked} class="num" data-testid="train-batch" onInput={(e) => setBatchSize(e.currentTarget.value)} />
          </label>
          <label>
            Training images
            <input value={limit} disabled={locked} class="num" placeholder="all 50,000" data-testid="train-limit" onInput={(e) => setLimit(e.currentTarget.value)} />
          </label>
          <label>
            Validation images
            <input value={validLimit} disabled={locked} class="num" placeholder="all 10,000" data-testid="train-valid-limit" onInput={(e) => setValidLimit(e.currentTarget.value)} />
          </label>
          <label>
            Seed
            <input value={seed} disabled={locked} class="num" data-testid="train-seed" onInput={(e) => setSeed(e.currentTarget.value)} />
          </label>
        </div>
        <p class="hint">
          {spec.scaleInit === 'data' ? 'The scaling layer starts from the data (each latent gets the prior’s spread).' : 'The scaling layer starts at zero, as in the paper.'} The last 10,000
          training images validate, as in <code>nice-flow train</code>.
        </p>
      </details>
      <div class="controls">
        <button type="button" class="primary" data-testid="train-start" disabled={!canStart} onClick={() => void start()}>
          {st.phase === 'paused' || (st.phase === 'failed' && st.settings) ? 'Resume' : 'Start'}
        </button>
        <button type="button" data-testid="train-pause" disabled={!!busy || st.phase !== 'running' && st.phase !== 'validating'} onClick={() => void pause()}>
          Pause
        </button>
        <button type="button" data-testid="train-download" disabled={!!busy || !['running', 'validating', 'paused', 'done', 'diverged', 'failed', 'pausing'].includes(st.phase) || !st.settings} onClick={() => void download()}>
          Download model.safetensors
        </button>
        <span class="spacer" />
        {locked && st.phase !== 'loading' && st.phase !== 'elsewhere' && (
          <button type="button" class={`ghost ${confirmDiscard ? 'danger' : ''}`} data-testid="train-discard" disabled={!!busy} onClick={() => (confirmDiscard ? void discard() : setConfirmDiscard(true))} onBlur={() => setConfirmDiscard(false)}>
            {confirmDiscard ? 'Discard the run?' : 'New run'}
          </button>
        )}
      </div>
      <p class={`status ${running ? 'live' : ''}`} data-testid="train-status" data-phase={st.phase} data-step={st.step}>
        {statusParts.join(' · ')}
        {st.checkpointStep !== null && <span class="hint"> · checkpoint at step {st.checkpointStep.toLocaleString('en-US')}</span>}
      </p>
      {st.phase === 'loading' && <ProgressBar done={0} total={null} label={st.message ?? 'loading'} />}
      {validation.value && <ProgressBar done={validation.value.done} total={validation.value.total} label="validating" />}
      <Message
        text={st.phase === 'failed' || st.phase === 'diverged' || st.phase === 'elsewhere' || st.phase === 'paused' ? st.message : null}
        level={st.phase === 'elsewhere' ? 'info' : st.phase === 'paused' ? 'warning' : 'error'} testid="train-message"
      />
      <Message text={error} testid="train-message" />
      {datasets.length === 0 && <Message level="info" text="This host offers no data set to train on (its studio.json lists none): use npx nice-flow studio, or the static build with its MNIST." />}
      <div class="train-body">
        <div class="train-chart">
          <Chart options={chartOptions} data={chartData} testid="train-chart" />
          <p class="metric small">
            {last ? (
              <>
                epoch {last.epoch}: validation <strong>{fmt(last.validLogLikelihood, 1)}</strong> nats · <strong>{fmt(last.validBitsPerDim, 3)}</strong> bits/dim
                {st.bestEpoch !== null && <span class="hint"> · best: epoch {st.bestEpoch}</span>}
              </>
            ) : (
              <span class="hint">Validation log-likelihood appears after each epoch; the best model by it is what you download.</span>
            )}
          </p>
        </div>
        <figure class="epoch-grid">
          <ImageGrid images={epochSamples.value?.images ?? null} count={epochSamples.value?.count ?? 64} shape={epochSamples.value?.shape ?? [1, 28, 28]} cols={8} scale={1.25} testid="train-samples" />
          <figcaption>{epochSamples.value ? `samples after epoch ${epochSamples.value.epoch}` : 'samples after each epoch'}</figcaption>
        </figure>
      </div>
    </Panel>
  );
}
