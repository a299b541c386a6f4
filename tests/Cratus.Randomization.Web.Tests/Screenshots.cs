namespace Cratus.Randomization.Web.Tests;

/// <summary>Where the test run puts its screenshots: docs/screenshots/ of the repository.</summary>
public static class Screenshots
{
    public static string PathOf(string name)
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "CratusRandomization.sln"))) folder = folder.Parent;
        var screenshots = Path.Combine(folder?.FullName ?? throw new InvalidOperationException("CratusRandomization.sln not found above the test run"), "docs", "screenshots");
        Directory.CreateDirectory(screenshots);
        return Path.Combine(screenshots, name + ".png");
    }
}
