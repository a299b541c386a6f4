using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

/// <summary>
/// Debian's Chromium (apt package <c>chromium</c>), driven by Playwright: launched once for the test collection,
/// headless, without the sandbox (CI runs as root). Nothing is downloaded.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"The browser tests need Chromium at {ChromiumPath}: apt-get install chromium (.ci/run installs it).");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath, Headless = true, Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>The browser tests share one Chromium and run one class at a time (two cores; each drives a server).</summary>
[CollectionDefinition(Name)]
public sealed class UsesBrowser : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}
