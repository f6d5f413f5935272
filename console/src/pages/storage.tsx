// Storage through the project's storage API (service key): buckets, folders, uploads with progress (TUS,
// resumable, for big files; one POST for small ones), image preview, signed URLs, deletion.
import { useEffect, useRef, useState } from 'react';
import { projectBase, projectFetch, projectJson, projectKeys, serviceHeaders, serviceUnavailable, type Project } from '../api.ts';
import { READ_ONLY_TITLE, useCanWrite } from '../context.tsx';
import { Link, navigate } from '../router.tsx';
import { Button, Confirm, Copyable, ErrorNote, Field, Modal, Progress, Skeleton, fmtBytes, fmtDate, useAction, useAsync } from '../ui.tsx';

interface Bucket { id: string; name: string; public: boolean; file_size_limit: number | null; created_at: string }
interface Obj { name: string; id: string | null; updated_at?: string; metadata?: { size?: number; mimetype?: string } | null }
const TUS_THRESHOLD = 6 * 1024 * 1024;
const TUS_CHUNK = 6 * 1024 * 1024;

const objectPath = (parts: string[]) => parts.map(encodeURIComponent).join('/');

/** One request with upload progress (fetch has none). */
function xhr(method: string, url: string, headers: Record<string, string>, body: Blob, onProgress: (loaded: number) => void): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const r = new XMLHttpRequest();
    r.open(method, url);
    for (const [k, v] of Object.entries(headers)) r.setRequestHeader(k, v);
    r.upload.onprogress = (e) => onProgress(e.loaded);
    r.onload = () => (r.status >= 200 && r.status < 300 ? resolve(r) : reject(new Error(`${r.status}: ${(() => { try { return JSON.parse(r.responseText).message; } catch { return r.responseText; } })()}`)));
    r.onerror = () => reject(new Error('network error'));
    r.send(body);
  });
}

async function upload(ref: string, bucket: string, path: string, file: File, onProgress: (p: number) => void): Promise<void> {
  const keys = await projectKeys(ref);
  if (!keys.service) throw new Error((await serviceUnavailable(ref))!);
  const auth = serviceHeaders(keys);
  if (file.size < TUS_THRESHOLD) {
    await xhr('POST', `/project/${ref}/storage/v1/object/${bucket}/${objectPath(path.split('/'))}`,
      { ...auth, 'content-type': file.type || 'application/octet-stream', 'x-upsert': 'true' }, file, (l) => onProgress(l / file.size));
    return;
  }
  // TUS 1.0: create, then PATCH chunks; a failed chunk resumes from the offset the server reports.
  const b64 = (s: string) => btoa(unescape(encodeURIComponent(s)));
  const created = await projectFetch(ref, '/storage/v1/upload/resumable', {
    method: 'POST',
    headers: {
      'tus-resumable': '1.0.0', 'upload-length': String(file.size), 'x-upsert': 'true',
      'upload-metadata': `bucketName ${b64(bucket)},objectName ${b64(path)},contentType ${b64(file.type || 'application/octet-stream')}`,
    },
  });
  if (!created.ok) throw new Error(`upload could not start: ${created.status} ${await created.text()}`);
  const location = new URL(created.headers.get('location')!, window.location.href).pathname;
  let offset = 0, failures = 0;
  while (offset < file.size) {
    const chunk = file.slice(offset, offset + TUS_CHUNK);
    try {
      const r = await xhr('PATCH', location, { ...auth, 'tus-resumable': '1.0.0', 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
        chunk, (l) => onProgress((offset + l) / file.size));
      offset = Number(r.getResponseHeader('upload-offset') ?? offset + chunk.size);
      failures = 0;
    } catch (e) {
      if (++failures > 3) throw e;
      const head = await projectFetch(ref, location.replace(`/project/${ref}`, ''), { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
      offset = Number(head.headers.get('upload-offset') ?? offset);
    }
    onProgress(offset / file.size);
  }
}

export function StoragePage({ project, rest }: { project: Project; rest: string }) {
  const ref = project.ref;
  const canWrite = useCanWrite(project.organization_slug);
  const [bucketName, ...prefixParts] = rest ? rest.split('/').filter(Boolean) : [];
  const buckets = useAsync(() => projectJson<Bucket[]>(ref, 'GET', '/storage/v1/bucket'), [ref]);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState(''), [isPublic, setPublic] = useState(false);
  const [deleting, setDeleting] = useState<string>();
  const create = useAction(async () => {
    await projectJson(ref, 'POST', '/storage/v1/bucket', { name, public: isPublic });
    setCreating(false); buckets.reload(); navigate(`/p/${ref}/storage/${encodeURIComponent(name)}`);
  });
  return (
    <section className="editor">
      <aside className="editor-side" aria-label="Buckets">
        <Button variant="primary" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => { setName(''); setCreating(true); }}>New bucket</Button>
        <ErrorNote error={buckets.error} />
        {!buckets.data ? <Skeleton rows={3} height={28} /> : (
          <ul className="side-list">
            {buckets.data.map((b) => <li key={b.id}><Link to={`/p/${ref}/storage/${encodeURIComponent(b.name)}`}>{b.name}{b.public ? <span className="badge">public</span> : null}</Link></li>)}
            {buckets.data.length === 0 ? <li className="muted">No buckets</li> : null}
          </ul>
        )}
      </aside>
      <div className="editor-main">
        {bucketName ? <BucketView key={bucketName} project={project} bucket={bucketName} prefix={prefixParts} canWrite={canWrite} onDelete={() => setDeleting(bucketName)} />
          : <p className="muted">Choose a bucket, or create one.</p>}
      </div>
      <Modal title="New bucket" open={creating} onClose={() => setCreating(false)}>
        <form onSubmit={(e) => { e.preventDefault(); create.run(); }}>
          <Field label="Name">{(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
          <label className="toggle"><input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} /> Public (files readable without a key)</label>
          <ErrorNote error={create.error} />
          <div className="row end"><Button type="submit" variant="primary" busy={create.busy}>Create bucket</Button></div>
        </form>
      </Modal>
      <Confirm open={!!deleting} title="Delete bucket" typed={deleting} message={`Deletes the bucket ${deleting} and every file in it.`}
        action={async () => { await projectJson(ref, 'POST', `/storage/v1/bucket/${deleting}/empty`); await projectJson(ref, 'DELETE', `/storage/v1/bucket/${deleting}`); }}
        onClose={() => setDeleting(undefined)} onDone={() => { buckets.reload(); navigate(`/p/${ref}/storage`); }} />
    </section>
  );
}

function BucketView({ project, bucket, prefix, canWrite, onDelete }: { project: Project; bucket: string; prefix: string[]; canWrite: boolean; onDelete: () => void }) {
  const ref = project.ref;
  const prefixText = prefix.length ? `${prefix.join('/')}/` : '';
  const list = useAsync(() => projectJson<Obj[]>(ref, 'POST', `/storage/v1/object/list/${bucket}`, { prefix: prefixText, limit: 1000, offset: 0, sortBy: { column: 'name', order: 'asc' } }), [ref, bucket, prefixText]);
  const [uploads, setUploads] = useState<{ name: string; progress: number; error?: string }[]>([]);
  const fileInput = useRef<HTMLInputElement>(null);
  const [preview, setPreview] = useState<{ name: string; url?: string; mimetype?: string; signed?: string }>();
  const [deleting, setDeleting] = useState<string[]>();
  const [folder, setFolder] = useState<string>();
  useEffect(() => () => { if (preview?.url) URL.revokeObjectURL(preview.url); }, [preview]);
  const base = `/p/${ref}/storage/${encodeURIComponent(bucket)}`;
  const start = async (files: FileList | null) => {
    if (!files) return;
    for (const file of Array.from(files)) {
      const entry = { name: file.name, progress: 0 };
      setUploads((u) => [...u, entry]);
      const update = (p: Partial<typeof entry> & { error?: string }) => setUploads((u) => u.map((x) => (x.name === file.name ? { ...x, ...p } : x)));
      try { await upload(ref, bucket, prefixText + file.name, file, (progress) => update({ progress })); update({ progress: 1 }); }
      catch (e) { update({ error: (e as Error).message }); }
    }
    list.reload();
    setTimeout(() => setUploads((u) => u.filter((x) => x.error)), 1500);
  };
  const openFile = useAction(async (o: Obj) => {
    const path = prefixText + o.name;
    const mimetype = o.metadata?.mimetype;
    let url: string | undefined;
    if (mimetype?.startsWith('image/')) {
      const res = await projectFetch(ref, `/storage/v1/object/authenticated/${bucket}/${objectPath(path.split('/'))}`);
      if (res.ok) url = URL.createObjectURL(await res.blob());
    }
    setPreview({ name: path, url, mimetype });
  });
  const sign = useAction(async (seconds: number) => {
    const r = await projectJson(ref, 'POST', `/storage/v1/object/sign/${bucket}/${objectPath(preview!.name.split('/'))}`, { expiresIn: seconds });
    setPreview({ ...preview!, signed: `${projectBase(ref)}/storage/v1${r.signedURL ?? r.signedUrl}` });
  });
  const makeFolder = useAction(async () => {
    const empty = new Blob([''], { type: 'text/plain' });
    const res = await projectFetch(ref, `/storage/v1/object/${bucket}/${objectPath([...prefix, folder!, '.emptyFolderPlaceholder'])}`, { method: 'POST', body: empty });
    if (!res.ok) throw new Error((await res.json()).message);
    setFolder(undefined); list.reload();
  });
  return (
    <>
      <header className="page-head">
        <div>
          <h1>{bucket}</h1>
          <nav aria-label="Folder" className="crumbs">
            <Link to={base}>{bucket}</Link>
            {prefix.map((p, i) => <span key={i}> / <Link to={`${base}/${objectPath(prefix.slice(0, i + 1))}`}>{p}</Link></span>)}
          </nav>
        </div>
        <div className="row">
          <Button disabled={!canWrite} onClick={() => setFolder('')}>New folder</Button>
          <input ref={fileInput} type="file" multiple hidden aria-label="Files to upload" onChange={(e) => { start(e.target.files); e.target.value = ''; }} />
          <Button variant="primary" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => fileInput.current?.click()}>Upload files</Button>
          <Button variant="danger" disabled={!canWrite} onClick={onDelete}>Delete bucket</Button>
        </div>
      </header>
      <div className="uploads" aria-live="polite">
        {uploads.map((u) => <div key={u.name}>{u.error ? <span className="error">{u.name}: {u.error}</span> : <Progress value={u.progress} label={`Uploading ${u.name}`} />}</div>)}
      </div>
      <div className={canWrite ? 'dropzone' : ''} onDragOver={(e) => { if (canWrite) e.preventDefault(); }} onDrop={(e) => { if (!canWrite) return; e.preventDefault(); start(e.dataTransfer.files); }}>
        <ErrorNote error={list.error ?? openFile.error} />
        {!list.data ? <Skeleton rows={4} height={40} /> : (
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Type</th><th scope="col">Updated</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {list.data.filter((o) => o.name !== '.emptyFolderPlaceholder').map((o) => (
                <tr key={o.name}>
                  <td>{o.id === null
                    ? <Link to={`${base}/${objectPath([...prefix, o.name])}`}>📁 {o.name}</Link>
                    : <button type="button" className="linkish" onClick={() => openFile.run(o)}>{o.name}</button>}</td>
                  <td>{o.metadata?.size !== undefined ? fmtBytes(o.metadata.size) : ''}</td>
                  <td>{o.metadata?.mimetype ?? (o.id === null ? 'folder' : '')}</td>
                  <td>{fmtDate(o.updated_at)}</td>
                  <td className="right">{o.id !== null ? <Button variant="ghost" disabled={!canWrite} onClick={() => setDeleting([prefixText + o.name])}>Delete</Button> : null}</td>
                </tr>
              ))}
              {list.data.length === 0 ? <tr><td colSpan={5} className="muted">Empty. Drop files here or use Upload.</td></tr> : null}
            </tbody>
          </table>
        )}
      </div>
      <Modal title={preview?.name ?? ''} open={!!preview} onClose={() => setPreview(undefined)} wide>
        {preview ? (
          <>
            {preview.url ? <img className="preview" src={preview.url} alt={preview.name} /> : <p className="muted">{preview.mimetype ?? 'file'}: no preview</p>}
            <div className="row"><Button busy={sign.busy} onClick={() => sign.run(3600)}>Signed URL (1 hour)</Button><Button onClick={() => sign.run(7 * 86400)}>Signed URL (7 days)</Button></div>
            <ErrorNote error={sign.error} />
            {preview.signed ? <Copyable label="Signed URL" value={preview.signed} /> : null}
          </>
        ) : null}
      </Modal>
      <Modal title="New folder" open={folder !== undefined} onClose={() => setFolder(undefined)}>
        <form onSubmit={(e) => { e.preventDefault(); makeFolder.run(); }}>
          <Field label="Folder name">{(id) => <input id={id} required pattern="[^/]+" value={folder ?? ''} onChange={(e) => setFolder(e.target.value)} />}</Field>
          <ErrorNote error={makeFolder.error} />
          <div className="row end"><Button type="submit" variant="primary" busy={makeFolder.busy}>Create</Button></div>
        </form>
      </Modal>
      <Confirm open={!!deleting} title="Delete file" message={`Deletes ${deleting?.join(', ')}.`}
        action={() => projectJson(ref, 'DELETE', `/storage/v1/object/${bucket}`, { prefixes: deleting })} onClose={() => setDeleting(undefined)} onDone={list.reload} />
    </>
  );
}
