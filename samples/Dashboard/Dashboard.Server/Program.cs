// The live monitoring dashboard: README's main job. See DashboardApp for what it offers.
using Dashboard.Server;

var app = Dashboard.Server.DashboardApp.Build(args);
app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (var url in app.Urls)
    {
        Console.WriteLine($"Dashboard: {url}/?token=alice-token  (WebSocket {url.Replace("http", "ws", StringComparison.Ordinal)}/ws?token=...; demo tokens alice-token, bob-token, eve-token)");
    }
});
app.Run();
