namespace Cratus.Randomization.Server.Web;

/// <summary>Times as the site reads them: in the trial's time zone, named.</summary>
public static class TrialTime
{
    public static TimeZoneInfo Zone(string timeZoneId) => TimeZoneInfo.FindSystemTimeZoneById(timeZoneId);

    public static string Format(DateTimeOffset time, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(time, zone).ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture) + " (" + zone.Id + ")";

    public static string Format(DateTimeOffset? time, TimeZoneInfo zone) => time is { } t ? Format(t, zone) : "—";
}
