"""The notebook UI in a real browser: JupyterLab on localhost, Debian's Chromium headless, driven by Playwright.

Opens nbs/tutorials/train.ipynb, runs all cells, and checks that the config form renders, that the dashboard's
plot updates at least twice while training, that the Stop button saves a checkpoint, and that the chat widget
answers a typed question from the tuned model and then, toggled, from the base model. Screenshots are kept in
test-artifacts/browser/ (after the form renders, while training, after Stop, the chat).
"""
import json, os, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
ART = ROOT / 'test-artifacts' / 'browser'

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason='needs Debian chromium (tools/test.sh installs it when it can)')


def free_port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p


@pytest.fixture
def lab(tmp_path):
    pytest.importorskip('jupyterlab'); pytest.importorskip('playwright')
    nb = json.loads((ROOT / 'nbs' / 'tutorials' / 'train.ipynb').read_text())
    params = next(c for c in nb['cells'] if 'parameters' in c['metadata'].get('tags', []))
    src = ''.join(params['source'])
    assert 'steps = 60' in src
    params['source'] = src.replace('steps = 60', 'steps = 400')       # long enough that Stop lands mid-run
    (tmp_path / 'train.ipynb').write_text(json.dumps(nb))
    port, token = free_port(), 'backprop-nb-test'
    env = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false', JUPYTER_PLATFORM_DIRS='1')
    env.pop('BACKPROP_NB_HEADLESS', None)
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', f'--port={port}', f'--IdentityProvider.token={token}',
                             f'--ServerApp.root_dir={tmp_path}', '--ServerApp.disable_check_xsrf=True', '--allow-root'], env=env,
                            stdout=open(tmp_path / 'lab.log', 'w'), stderr=subprocess.STDOUT)
    for _ in range(120):
        if proc.poll() is not None: break
        try: socket.create_connection(('127.0.0.1', port), timeout=1).close(); break
        except OSError: time.sleep(0.5)
    else: pytest.fail('JupyterLab did not start: ' + (tmp_path / 'lab.log').read_text()[-2000:])
    yield f'http://127.0.0.1:{port}/lab/tree/train.ipynb?token={token}', tmp_path
    proc.terminate()
    try: proc.wait(timeout=20)
    except subprocess.TimeoutExpired: proc.kill()


def test_train_tutorial_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright
    url, root = lab
    ART.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                                                                   '--disable-background-networking', '--disable-component-update', '--disable-sync'])
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        page.goto(url)
        page.wait_for_selector('.jp-Notebook', timeout=120_000)
        page.wait_for_selector('.jp-KernelName', timeout=120_000)
        time.sleep(4)                                    # let the kernel finish starting
        page.click('li.lm-MenuBar-item:has-text("Run")')
        page.click('li.lm-Menu-item:has-text("Run All Cells")')

        # the form renders: the preset dropdown and the LoRA section
        page.wait_for_selector('.widget-dropdown:has-text("preset")', timeout=180_000)
        page.locator('.widget-dropdown:has-text("preset")').first.scroll_into_view_if_needed()
        page.screenshot(path=str(ART / '1-form.png'))

        # the dashboard's plot changes at least twice while training
        img = page.locator('.widget-image').first
        img.wait_for(timeout=240_000)
        seen, t0 = [], time.time()
        while len(set(seen)) < 3 and time.time() - t0 < 240:
            src = img.get_attribute('src') or ''
            if src and (not seen or src != seen[-1]): seen.append(src)
            time.sleep(0.3)
        assert len(set(seen)) >= 3, f'the plot changed {len(set(seen)) - 1} times'     # first image + two updates
        img.scroll_into_view_if_needed()
        page.screenshot(path=str(ART / '2-training.png'))

        # Stop saves a checkpoint
        page.locator('button:has-text("Stop and save")').first.click()
        status = None
        for _ in range(240):
            runs = sorted(root.glob('runs/tutorial-*/status.json'))
            if runs:
                status = json.loads(runs[-1].read_text())
                if status['status'] != 'running': break
            time.sleep(0.5)
        assert status and status['status'] == 'stopped', status
        run = runs[-1].parent
        cks = sorted(run.glob('checkpoints/checkpoint-*'))
        assert cks, list(run.iterdir())
        time.sleep(3)
        page.screenshot(path=str(ART / '3-stopped.png'))

        # the chat widget under it: a question to the tuned model, then the same to the base model
        replies = []
        for who in ('tuned', 'base'):
            box = page.locator('.bp-chat input[type="text"]').first
            box.wait_for(timeout=300_000)
            if who == 'base': page.locator('.bp-chat button:has-text("base")').first.click()
            box.fill('What is the chemical symbol of Gold?')
            page.locator('.bp-chat button:has-text("Send")').first.click()
            page.wait_for_function(f"document.querySelectorAll('.bp-chat .bp-reply').length >= {len(replies) + 1}", timeout=60_000)
            page.wait_for_function("!document.querySelector('.bp-chat button.mod-primary').disabled", timeout=120_000)
            reply = page.locator('.bp-chat .bp-reply').nth(len(replies))
            replies.append((reply.locator('b').inner_text(), reply.locator('span').inner_text()))
        page.locator('.bp-chat').first.scroll_into_view_if_needed()
        page.screenshot(path=str(ART / '4-chat.png'))
        browser.close()
    assert [w for w, _ in replies] == ['tuned', 'base'] and all(t.strip() for _, t in replies), replies
    print(f'plot updates seen: {len(set(seen)) - 1}; stopped at step {status["step"]}; checkpoint {cks[-1].name}; '
          f'chat replies {replies}; screenshots in {ART}')
