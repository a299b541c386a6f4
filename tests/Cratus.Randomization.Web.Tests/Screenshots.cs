namespace Cratus.Randomization.Web.Tests;

/// <summary>Where a test's screenshot goes: docs/screenshots/&lt;name&gt;.png in the repository (found by its solution file).</summary>
public static class Screenshots
{
    public static string PathOf(string name)
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "CratusRandomization.sln"))) folder = folder.Parent;
        var target = Path.Combine(folder?.FullName ?? throw new InvalidOperationException("CratusRandomization.sln not found above the test output"),
            "docs", "screenshots");
        Directory.CreateDirectory(target);
        return Path.Combine(target, name + ".png");
    }
}
