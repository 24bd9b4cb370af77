// dotnet run --project samples/Dashboard/Dashboard.Console -- [server] [token] [project]
using Dashboard.Console;

var server = new Uri(args.Length > 0 ? args[0] : "http://127.0.0.1:5080");
var token = args.Length > 1 ? args[1] : "bob-token";
var project = args.Length > 2 ? args[2] : "web";
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

try
{
    await DashboardConsole.RunAsync(server, token, project, Console.Out, stop.Token);
}
catch (Ori.Sockets.Client.OriSocketConnectionException ex)
{
    Console.Error.WriteLine($"Could not connect: {ex.Message}");
    return 1;
}

return 0;
