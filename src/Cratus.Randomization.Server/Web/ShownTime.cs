using System.Globalization;

namespace Cratus.Randomization.Server.Web;

/// <summary>A moment as the pages show it: unambiguous, in UTC.</summary>
public static class ShownTime
{
    public static string Of(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    public static string DateOf(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
