import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';
import { makePdf } from './pdf.ts';

// A 1×1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

test('files: create a bucket, upload with progress (picker and drop), browse by prefix, previews, signed URL, delete', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Files' }).click();
    await page.getByRole('button', { name: 'New bucket' }).click();
    await page.getByLabel('Bucket name').fill('media');
    await page.getByLabel('Max object size (bytes)').fill('1000000');
    await page.getByLabel('Allowed types').fill('image/*, text/plain');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    await page.waitForURL(/\/_\/files\/media$/);
    const bucket = await server.api<{ max_object_size: number; allowed_types: string[] }>('GET', '/v1/storage/buckets/media');
    assert.deepEqual([bucket.body.max_object_size, bucket.body.allowed_types], [1000000, ['image/*', 'text/plain']]);

    // Upload with the picker into a prefix.
    await page.getByLabel('Prefix').fill('docs/');
    await page.getByLabel('choose files').setInputFiles([
      { name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from the dashboard\n') },
      { name: 'dot.png', mimeType: 'image/png', buffer: PNG },
    ]);
    const bar = page.getByRole('progressbar', { name: 'Upload of docs/hello.txt' });
    await bar.waitFor();
    await page.getByRole('button', { name: 'Preview docs/hello.txt' }).waitFor();
    await page.getByRole('button', { name: 'Preview docs/dot.png' }).waitFor();
    assert.equal(await bar.getAttribute('value'), await bar.getAttribute('max'));
    const listed = await server.api<{ objects: { path: string; content_type: string }[] }>('GET', '/v1/storage/media?prefix=docs/');
    assert.deepEqual(listed.body.objects.map((o) => [o.path, o.content_type]), [
      ['docs/dot.png', 'image/png'],
      ['docs/hello.txt', 'text/plain'],
    ]);

    // A type the bucket refuses: the error is shown with its request id.
    s.expect({ status: 415, path: /^\/v1\/storage\/media\/docs\/x\.pdf$/, method: 'PUT' });
    await page.getByLabel('choose files').setInputFiles([{ name: 'x.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4') }]);
    await page.getByRole('alert').filter({ hasText: /request id/ }).waitFor();

    // Drop a file onto the upload area.
    await page.getByLabel('Prefix').fill('');
    await page.getByRole('button', { name: 'Browse' }).click();
    const data = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped'], 'dropped.txt', { type: 'text/plain' }));
      return dt;
    });
    await page.getByRole('region', { name: 'Upload files' }).dispatchEvent('drop', { dataTransfer: data });
    await page.getByRole('button', { name: 'Preview dropped.txt' }).waitFor();
    await page.getByRole('button', { name: 'docs/' }).click();

    // Previews.
    await page.getByRole('button', { name: 'Preview docs/hello.txt' }).click();
    await page.getByRole('region', { name: 'Preview of docs/hello.txt' }).getByText('hello from the dashboard').waitFor();
    await page.getByRole('button', { name: 'Preview docs/dot.png' }).click();
    const img = page.getByRole('img', { name: 'docs/dot.png' });
    await img.waitFor();
    await page.waitForFunction(() => (document.querySelector('img') as HTMLImageElement | null)?.naturalWidth === 1);
    await shoot(s, 'files');

    // Signed URL: works without auth.
    await page.getByRole('button', { name: 'Signed URL of docs/hello.txt' }).click();
    const url = (await page.locator('code.url').innerText()).trim();
    assert.ok(url.startsWith(server.url + '/v1/storage/media/docs/hello.txt?'));
    await page.getByRole('button', { name: 'Copy signed URL' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url);
    assert.equal(await (await fetch(url)).text(), 'hello from the dashboard\n');

    await page.getByRole('button', { name: 'Delete docs/hello.txt' }).click();
    await page.getByRole('button', { name: 'Preview docs/hello.txt' }).waitFor({ state: 'detached' });
    assert.equal((await server.api('GET', '/v1/storage/media/docs/hello.txt')).status, 404);
  });
});

test('files: a PDF uploaded from the dashboard is previewed in a frame', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await server.api('POST', '/v1/storage/buckets', { name: 'papers', public: false, allowed_types: ['application/pdf'], rules: {} });
    const pdf = makePdf('Hello from Basalt');
    await page.goto('/_/files/papers');
    await page.getByLabel('choose files').setInputFiles([{ name: 'hello.pdf', mimeType: 'application/pdf', buffer: pdf }]);
    // Chromium's PDF viewer answers from its own extension when it renders a PDF.
    const viewer: string[] = [];
    page.on('response', (r) => r.url().startsWith('chrome-extension://') && viewer.push(r.url()));
    // Keep each Blob the page turns into a URL, to compare the previewed bytes with the upload.
    await page.evaluate(() => {
      const w = window as unknown as { blobs: Blob[] };
      w.blobs = [];
      const make = URL.createObjectURL.bind(URL);
      URL.createObjectURL = (b: Blob | MediaSource) => (w.blobs.push(b as Blob), make(b));
    });
    await page.getByRole('button', { name: 'Preview hello.pdf' }).click();
    const region = page.getByRole('region', { name: 'Preview of hello.pdf' });
    const frame = region.locator('iframe[title="hello.pdf"]');
    await frame.waitFor();
    // The preview holds the very bytes that were uploaded (and stored)...
    const shown = await page.evaluate(async () => {
      const b = (window as unknown as { blobs: Blob[] }).blobs.at(-1)!;
      return { type: b.type, bytes: Array.from(new Uint8Array(await b.arrayBuffer())) };
    });
    assert.equal(shown.type, 'application/pdf');
    assert.deepEqual(Buffer.from(shown.bytes), pdf);
    const stored = await fetch(`${server.url}/v1/storage/papers/hello.pdf`, { headers: { authorization: `Bearer ${server.token}` } });
    assert.equal(stored.headers.get('content-type'), 'application/pdf');
    assert.deepEqual(Buffer.from(await stored.arrayBuffer()), pdf);
    // ...and shows them as a PDF in a frame (the page's CSP allows blob: frames only).
    const src = (await frame.getAttribute('src')) ?? '';
    assert.match(src, /^blob:http:\/\/127\.0\.0\.1:\d+\//);
    await page.waitForFunction((u) => {
      const f = document.querySelector(`iframe[src="${u}"]`) as HTMLIFrameElement | null;
      return !!f && f.getBoundingClientRect().height > 200;
    }, src);
    assert.ok(page.frames().some((f) => f.url() === src), 'the frame loaded the PDF');
    for (let i = 0; i < 50 && viewer.length === 0; i++) await page.waitForTimeout(100);
    assert.ok(viewer.length > 0, "Chromium's PDF viewer rendered it");
    await shoot(s, 'files-pdf');
  });
});
