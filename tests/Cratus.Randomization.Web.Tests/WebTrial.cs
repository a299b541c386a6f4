using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

/// <summary>
/// The server on loopback as a browser meets it: its issuer is its own web address (the browser follows the sign-in
/// redirects there), on the real time of day (the clock only moves forward from now), with accounts made as needed:
/// every account's password is <see cref="Signing.Password"/>.
/// </summary>
public sealed class WebTrial : IAsyncDisposable
{
    public TrialServer Server { get; }
    public string Address => Server.WebAddress!;

    public WebTrial(TestDatabase database = TestDatabase.Sqlite, params (string From, string To)[] definitionEdits)
    {
        Server = new TrialServer(database, onLoopback: true, new Dictionary<string, string> { ["Token:Issuer"] = TrialServer.IssuerAtWebAddress },
            definitionEdits);
        Server.Clock.SetUtcNow(DateTimeOffset.UtcNow);
    }

    /// <summary>A server with more <paramref name="settings"/> (a UAT or training server, for example), on its own trial
    /// clock: the real time, moved only by AdvanceTrialClock.</summary>
    public WebTrial(IReadOnlyDictionary<string, string> settings, params (string From, string To)[] definitionEdits)
    {
        var all = new Dictionary<string, string>(settings)
        {
            ["Token:Issuer"] = TrialServer.IssuerAtWebAddress,
            [TrialServer.ClockSetting] = TrialServer.RealTrialClock,
        };
        Server = new TrialServer(TestDatabase.Sqlite, onLoopback: true, all, definitionEdits);
    }

    /// <summary>A new browser context (its own cookies) signed in as <paramref name="subject"/> through the sign-in pages.</summary>
    public async Task<IPage> SignInAsync(IBrowser browser, TrialRole role, string subject, string[]? sites = null, ViewportSize? viewport = null)
    {
        Server.EnsureAccount(role, subject, sites ?? []);
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = viewport ?? new ViewportSize { Width = 1280, Height = 900 }, AcceptDownloads = true,
        });
        lock (_contexts) _contexts.Add(context);
        var page = await context.NewPageAsync();
        Watch(page);
        await page.GotoAsync(Address + "/");
        await page.WaitForURLAsync(url => url.Contains("/account/signin", StringComparison.Ordinal));
        await page.FillAsync("#user", subject);
        await page.FillAsync("#password", Signing.Password);
        await page.ClickAsync("button[type=submit]");
        try
        {
            // Generous: on a loaded CI machine (the server tests run beside these) the first render can take long.
            await page.WaitForURLAsync(Address + "/", new() { Timeout = 90_000 });
            await page.GetByTestId("who").WaitForAsync(new() { Timeout = 90_000 });
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The application did not show who is signed in at {page.Url}. Page:\n{await page.ContentAsync()}\nBrowser:\n{string.Join('\n', Problems)}\nServer:\n{ServerErrors()}");
        }
        return page;
    }

    /// <summary>The server's error entries so far (its JSON log), for the test's failure message.</summary>
    public string ServerErrors() => string.Join('\n', Directory.EnumerateFiles(Server.LogFolder)
        .SelectMany(f => { using var r = new StreamReader(new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)); return r.ReadToEnd().Split('\n'); })
        .Where(line => line.Contains("\"Level\":\"Error\"", StringComparison.Ordinal) || line.Contains("\"Level\":\"Warning\"", StringComparison.Ordinal)));

    /// <summary>What went wrong in the browser: console errors and failed requests, for the test's failure message.</summary>
    public List<string> Problems { get; } = [];

    private void Watch(IPage page)
    {
        page.Console += (_, message) => { if (message.Type is "error" or "warning") lock (Problems) Problems.Add($"console {message.Type}: {message.Text}"); };
        page.RequestFailed += (_, request) => { lock (Problems) Problems.Add($"request failed: {request.Url} {request.Failure}"); };
        page.Response += (_, response) => { if (response.Status >= 400) lock (Problems) Problems.Add($"{response.Status} {response.Url}"); };
    }

    /// <summary>
    /// Opens <paramref name="address"/> in <paramref name="page"/> and waits until it has rendered its data (its heading
    /// is shown and nothing is loading). Returns the HTTP status of the document (403 for a page the role may not open).
    /// </summary>
    public async Task<int> OpenAsync(IPage page, string address)
    {
        var response = await page.GotoAsync(Address + address);
        var status = response?.Status ?? 0;
        if (status != 200) return status;
        await page.Locator("h1").First.WaitForAsync();
        await WhenLoadedAsync(page);
        return status;
    }

    /// <summary>Waits until no progress bar shows (a table or a page still loading).</summary>
    public static Task WhenLoadedAsync(IPage page) =>
        page.WaitForFunctionAsync("() => !document.querySelector('.mud-progress-linear, .mud-table-loading')", null, new() { Timeout = 15_000 });

    /// <summary>
    /// Waits until the page's finite animations and CSS transitions have ended (a button enabled as the page loaded
    /// fades to its colours over a quarter of a second; read halfway, its contrast is neither the old nor the new).
    /// </summary>
    public static Task WhenSettledAsync(IPage page) =>
        page.EvaluateAsync("() => Promise.all(document.getAnimations()"
            + ".filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)"
            + ".map(a => a.finished.catch(() => null)))");

    /// <summary>The person account the tests use for a role: its user name and sites.</summary>
    public static (string Subject, string[] Sites) PersonFor(TrialRole role) => role switch
    {
        TrialRole.SiteCoordinator => ("coord-um", ["UM"]),
        TrialRole.Investigator => ("investigator-um", ["UM"]),
        _ => ($"{TrialRoles.ClaimValue(role).Replace('_', '-')}-1", []),
    };

    /// <summary>Signs in as the test account of <paramref name="role"/>.</summary>
    public Task<IPage> SignInAsync(IBrowser browser, TrialRole role, ViewportSize? viewport = null)
    {
        var (subject, sites) = PersonFor(role);
        return SignInAsync(browser, role, subject, sites, viewport);
    }

    private readonly List<IBrowserContext> _contexts = [];

    /// <summary>Closes the browser contexts this trial signed in (else their pages would keep reconnecting to a server
    /// that is gone, and spend the machine), then stops the server.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            try
            {
                await context.CloseAsync();
            }
            catch (PlaywrightException)
            {
                // Closed already.
            }
        }
        await Server.DisposeAsync();
    }
}
