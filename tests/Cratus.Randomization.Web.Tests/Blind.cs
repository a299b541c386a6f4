using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

/// <summary>
/// Everything a browser receives on a page: the rendered document (text and attributes), every HTTP response of the
/// application (the framework's and the component library's own files aside), every message of the Blazor circuit,
/// every download. Checked against the treatment detector of the gRPC blinding tests.
/// </summary>
public sealed partial class Blind
{
    // An arm letter in context ("arm A", "arm: B", "armCode": "C", "Arm C"), a dose, a cell count, placebo.
    [GeneratedRegex("""(?i)\barm[\s"':=_]*(code)?[\s"':=]*[ABC]\b|placebo|million|\bhMSCs?\b|\b[12]?00[,.]?000[,.]?000\b|cellCount|cell_count|allocat\w*\s*arm""")]
    public static partial Regex Treatment();

    private readonly List<(string Where, string Text)> _seen = [];

    public IReadOnlyList<(string Where, string Text)> Seen => _seen;

    /// <summary>Records what <paramref name="page"/> receives from now on.</summary>
    public void Watch(IPage page)
    {
        page.Response += async (_, response) =>
        {
            var url = response.Url;
            if (url.Contains("/_framework/", StringComparison.Ordinal) || url.Contains("/_content/", StringComparison.Ordinal)) return;
            try
            {
                var body = await response.BodyAsync();
                lock (_seen) _seen.Add(($"response {url}", Encoding.UTF8.GetString(body)));
            }
            catch (PlaywrightException)
            {
                // A redirect or an aborted request has no body.
            }
        };
        page.WebSocket += (_, socket) =>
        {
            socket.FrameReceived += (_, frame) =>
            {
                var text = frame.Text ?? (frame.Binary is { } bytes ? Encoding.UTF8.GetString(bytes) : "");
                lock (_seen) _seen.Add(("circuit message", text));
            };
        };
        page.Download += async (_, download) =>
        {
            var path = await download.PathAsync();
            lock (_seen) _seen.Add(($"download {download.SuggestedFilename}", File.ReadAllText(path)));
        };
    }

    /// <summary>Adds the page as rendered now: its whole document, attributes included.</summary>
    public async Task RecordAsync(IPage page)
    {
        var html = await page.ContentAsync();
        lock (_seen) _seen.Add(($"page {page.Url}", html));
    }

    /// <summary>Fails with where and what, if anything seen names a treatment.</summary>
    public void AssertNothingNamesATreatment(string who)
    {
        lock (_seen)
            foreach (var (where, text) in _seen)
                if (Treatment().Match(text) is { Success: true } match)
                    Assert.Fail($"{who} received a treatment in the {where}: \"{Around(text, match.Index)}\"");
    }

    private static string Around(string text, int index) => text.Substring(Math.Max(0, index - 80), Math.Min(text.Length - Math.Max(0, index - 80), 200));
}
