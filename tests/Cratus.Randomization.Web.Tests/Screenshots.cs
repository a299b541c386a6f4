namespace Cratus.Randomization.Web.Tests;

/// <summary>
/// Where the tests put the screenshots of the pages: docs/screenshots/ of the repository, shown in README. Each is
/// taken with CSS transitions and animations run to their end (ScreenshotAnimations.Disabled): a chip changing colour
/// was caught half way, between green and red.
/// </summary>
public static class Screenshots
{
    public static string PathOf(string name)
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "CratusRandomization.sln"))) folder = folder.Parent;
        var screenshots = Path.Combine(folder?.FullName ?? throw new InvalidOperationException("no CratusRandomization.sln above the test run"), "docs", "screenshots");
        Directory.CreateDirectory(screenshots);
        return Path.Combine(screenshots, name + ".png");
    }
}
